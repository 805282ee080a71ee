// The rupture log form: when, minute in session, movement, who initiated it and how it was noticed,
// record class, alliance dimensions, 3RS markers by family, precipitants, significance, narrative,
// the client's words and the therapist's part with its rating. Once logged: movement, markers,
// precipitants, significance, narrative, the client's response and the client-reported and
// resolution ratings are edited and saved together (only what changed is sent); the rest is shown
// read-only; status and repair attempts.
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
                    .disabled(model.isLogged)
                if model.sessionId != nil {
                    Picker("Minute in session", selection: $model.atMinute) {
                        Text("Not noted").tag(Int?.none)
                        ForEach(Array(stride(from: 0, through: 180, by: 5)), id: \.self) { Text("\($0) min").tag(Int?.some($0)) }
                        if let m = model.atMinute, m % 5 != 0 || m > 180 { Text("\(m) min").tag(Int?.some(m)) }
                    }
                    .disabled(model.isLogged)
                }
                Picker("Movement", selection: $model.movement) {
                    ForEach(Movement.all, id: \.self) { Text($0.label).tag($0) }
                }
                Picker("Initiated by", selection: $model.initiatedBy) {
                    ForEach(InitiatedBy.all, id: \.self) { Text($0.label).tag($0) }
                }
                .disabled(model.isLogged)
                Picker("Noticed by", selection: $model.detectedBy) {
                    Text("Not noted").tag(DetectedBy?.none)
                    ForEach(DetectedBy.all, id: \.self) { Text($0.label).tag(DetectedBy?.some($0)) }
                }
                .disabled(model.isLogged)
                Picker("Record", selection: $model.recordClass) {
                    ForEach(RecordClass.all, id: \.self) { Text($0.label).tag($0) }
                }
                .disabled(model.isLogged)
            }

            Section {
                ForEach(AllianceDimension.all, id: \.self) { d in
                    Toggle(d.label, isOn: Binding(get: { model.allianceDimensions.contains(d) }, set: { _ in model.toggle(d) }))
                }
                .disabled(model.isLogged)
            } header: {
                Text("Alliance dimensions strained")
            }

            ForEach(MarkerFamily.allCases, id: \.self) { family in
                Section(family.label) {
                    ForEach(family.markers, id: \.self) { marker in
                        Toggle(marker.label, isOn: Binding(get: { model.markers.contains(marker) }, set: { _ in model.toggle(marker) }))
                    }
                }
            }

            Section {
                ForEach(Precipitant.all, id: \.self) { p in
                    Toggle(p.label, isOn: Binding(get: { model.precipitants.contains(p) }, set: { _ in model.toggle(p) }))
                        .disabled(!model.canRemove(p))
                }
            } header: {
                Text("Precipitants")
            } footer: {
                if model.isLogged { Text("Precipitants can be added to a logged rupture, not removed.") }
            }

            Section {
                Stepper("Significance: \(model.significance) of 5", value: $model.significance, in: 1...5)
                if model.isLogged {
                    RatingPicker(title: "Client-reported intensity", value: $model.clientReportedIntensity,
                                 clearable: model.stored?.clientReportedIntensity == nil)
                    RatingPicker(title: "Resolution", value: $model.resolutionRating,
                                 clearable: model.stored?.resolutionRating == nil)
                }
            } footer: {
                Text("Impact on the collaboration: 1 low, 5 high (3RS).")
            }

            Section("What happened") {
                TextEditor(text: $model.narrative).frame(minHeight: 90)
                if model.isLogged {
                    LabeledText(title: "Client's words", text: model.clientWords)
                    LabeledText(title: "My part in it", text: model.therapistContribution)
                } else {
                    TextField("Client's words (verbatim)", text: $model.clientWords, axis: .vertical)
                    TextField("My part in it", text: $model.therapistContribution, axis: .vertical)
                }
                RatingPicker(title: "My contribution (3RS)", value: $model.therapistContributionRating, clearable: true)
                    .disabled(model.isLogged)
            }

            if model.isLogged {
                Section {
                    ForEach(ClientResponse.all, id: \.self) { r in
                        Toggle(r.label, isOn: Binding(get: { model.clientResponse.contains(r) }, set: { _ in model.toggle(r) }))
                            .disabled(!model.canRemove(r))
                    }
                } header: {
                    Text("Client's response")
                }
            }

            if !model.isLogged {
                Section {
                    ForEach(model.warnings, id: \.self) { Text($0).font(.footnote).foregroundStyle(.orange) }
                    ForEach(model.errors, id: \.field) { FieldErrorText(text: $0.description) }
                    Button("Log rupture") { run { try model.save() } }
                        .disabled(!model.errors.isEmpty)
                }
            } else {
                Section {
                    ForEach(model.warnings, id: \.self) { Text($0).font(.footnote).foregroundStyle(.orange) }
                    if model.hasUnsavedChanges {
                        ForEach(model.errors, id: \.field) { FieldErrorText(text: $0.description) }
                    }
                    Button("Save changes") { run { try model.saveChanges() } }
                        .disabled(!model.hasUnsavedChanges || !model.errors.isEmpty)
                    Button("Discard changes", role: .destructive) { model.discardChanges() }
                        .disabled(!model.hasUnsavedChanges)
                }
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

/// A 1–5 rating that may be left unrated (and, when `clearable`, set back to unrated).
struct RatingPicker: View {
    let title: String
    @Binding var value: Int?
    let clearable: Bool

    var body: some View {
        Picker(title, selection: $value) {
            if clearable || value == nil { Text("Not rated").tag(Int?.none) }
            ForEach(1...5, id: \.self) { Text("\($0) of 5").tag(Int?.some($0)) }
        }
    }
}

/// A read-only text of a logged rupture, with its title.
struct LabeledText: View {
    let title: String
    let text: String

    var body: some View {
        VStack(alignment: .leading, spacing: 2) {
            Text(title).font(.caption).foregroundStyle(.secondary)
            Text(text.isEmpty ? "—" : text)
        }
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
