// The rupture log form: movement, who initiated it, 3RS markers by family, precipitants,
// significance, narrative; once logged: significance changes, status, and repair attempts.
import NotebookKit
import SwiftUI

/// Rupture form screen (new or logged).
struct RuptureFormView: View {
    @Bindable var model: RuptureFormModel
    @Environment(\.dismiss) private var dismiss
    @State private var message: String?

    var body: some View {
        Form {
            Section("Rupture") {
                DatePicker("When", selection: $model.occurredAt)
                Picker("Movement", selection: $model.movement) {
                    ForEach(Movement.all, id: \.self) { Text($0.label).tag($0) }
                }
                Picker("Initiated by", selection: $model.initiatedBy) {
                    ForEach(InitiatedBy.all, id: \.self) { Text($0.label).tag($0) }
                }
                if !model.isLogged {
                    Picker("Record", selection: $model.recordClass) {
                        Text(RecordClass.psychotherapyNote.label).tag(RecordClass.psychotherapyNote)
                        Text(RecordClass.progressRecord.label).tag(RecordClass.progressRecord)
                    }
                }
            }
            .disabled(model.isLogged)

            ForEach(MarkerFamily.allCases, id: \.self) { family in
                Section(family.label) {
                    ForEach(family.markers, id: \.self) { marker in
                        Toggle(marker.label, isOn: Binding(get: { model.markers.contains(marker) }, set: { _ in model.toggle(marker) }))
                    }
                }
                .disabled(model.isLogged)
            }

            Section("Precipitants") {
                ForEach(Precipitant.all, id: \.self) { p in
                    Toggle(p.label, isOn: Binding(get: { model.precipitants.contains(p) }, set: { _ in model.toggle(p) }))
                }
            }
            .disabled(model.isLogged)

            Section {
                Stepper("Significance: \(model.significance) of 5", value: $model.significance, in: 1...5)
                if model.isLogged {
                    Button("Save significance") { run { try model.saveSignificance() } }
                }
            } footer: {
                Text("Impact on the collaboration: 1 low, 5 high (3RS).")
            }

            Section("What happened") {
                TextEditor(text: $model.narrative).frame(minHeight: 90)
                if !model.isLogged {
                    TextField("Client's words (verbatim)", text: $model.clientWords, axis: .vertical)
                    TextField("My part in it", text: $model.therapistContribution, axis: .vertical)
                }
            }
            .disabled(model.isLogged)

            if !model.isLogged {
                Section {
                    ForEach(model.warnings, id: \.self) { Text($0).font(.footnote).foregroundStyle(.orange) }
                    ForEach(model.errors, id: \.field) { FieldErrorText(text: $0.description) }
                    Button("Log rupture") { run { try model.save() } }
                        .disabled(!model.errors.isEmpty)
                }
            } else {
                Section("Status") {
                    Picker("Status", selection: Binding(get: { model.status }, set: { s in run { try model.setStatus(s) } })) {
                        ForEach(RuptureStatus.all, id: \.self) { Text($0.label).tag($0) }
                    }
                }
                Section("Repair attempts") {
                    ForEach(model.repairAttempts, id: \.id) { a in
                        VStack(alignment: .leading, spacing: 2) {
                            Text(a.strategies.map(\.label).joined(separator: ", ")).font(.subheadline)
                            Text((a.immediate ? "Immediate" : "Exploratory") + (a.effect.map { " · effect \($0)/5" } ?? ""))
                                .font(.caption).foregroundStyle(.secondary)
                            if !a.clientResponse.isEmpty {
                                Text("Client: " + a.clientResponse.map(\.label).joined(separator: ", ")).font(.caption)
                            }
                        }
                    }
                }
                RepairAttemptSection(model: model, run: run)
            }
            FieldErrorText(text: message ?? model.errorMessage)
        }
        .navigationTitle(model.isLogged ? "Rupture" : "Log a rupture")
        .navigationBarTitleDisplayMode(.inline)
    }

    private func run(_ body: () throws -> Void) {
        do { try body(); message = nil } catch { message = UserMessage.describe(error) }
    }
}

/// The new repair attempt sub-form.
struct RepairAttemptSection: View {
    @Bindable var model: RuptureFormModel
    let run: (() throws -> Void) -> Void

    var body: some View {
        Section {
            DisclosureGroup("Strategies") {
                ForEach(RepairStrategy.all, id: \.self) { s in
                    Toggle(s.label, isOn: Binding(
                        get: { model.repairDraft.strategies.contains(s) },
                        set: { on in if on { model.repairDraft.strategies.insert(s) } else { model.repairDraft.strategies.remove(s) } }))
                }
            }
            DisclosureGroup("Client's response") {
                ForEach(ClientResponse.all, id: \.self) { r in
                    Toggle(r.label, isOn: Binding(
                        get: { model.repairDraft.clientResponse.contains(r) },
                        set: { on in if on { model.repairDraft.clientResponse.insert(r) } else { model.repairDraft.clientResponse.remove(r) } }))
                }
            }
            Picker("Effect", selection: $model.repairDraft.effect) {
                Text("Not rated").tag(Int?.none)
                ForEach(1...5, id: \.self) { Text("\($0) of 5").tag(Int?.some($0)) }
            }
            TextField("Note", text: $model.repairDraft.note, axis: .vertical)
            ForEach(model.repairDraft.errors, id: \.field) { FieldErrorText(text: $0.description) }
            Button("Log repair attempt") { run { try model.addRepairAttempt() } }
                .disabled(!model.repairDraft.errors.isEmpty)
        } header: {
            Text("New repair attempt")
        } footer: {
            Text(model.repairDraft.strategies.isEmpty ? "" : (model.repairDraft.isImmediate ? "Immediate strategies" : "Exploratory strategies"))
        }
    }
}
