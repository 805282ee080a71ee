// The rupture log form: when, the session (or between sessions) and minute in it, movement, who
// initiated it and how it was noticed, record class, alliance dimensions, 3RS markers by family,
// precipitants, significance, narrative, the client's words and the therapist's part with its
// rating, and a follow-up plan. Once logged: every field but the record class is corrected here
// (the corrections saved together, only what changed sent), the four texts are saved as they are
// typed, the client's response and ratings; status with its history, repair attempts (each with
// the session it was made in), and voiding a rupture logged in error (with a reason, after
// confirmation), after which it is read-only.
import NotebookKit
import SwiftUI

/// Rupture form screen (new or logged).
struct RuptureFormView: View {
    @Bindable var model: RuptureFormModel
    @Environment(\.dismiss) private var dismiss
    @State private var message: String?
    @State private var confirmingVoid = false
    @State private var voidReason = ""

    var body: some View {
        Form {
            if let voided = model.voided {
                Section {
                    Label("Voided — logged in error", systemImage: "xmark.octagon").foregroundStyle(.red)
                    Text(voided.reason)
                    Text("\(model.voidedByMe ? "By you" : "By \(voided.by)") · \(Date(mendMillis: voided.at).listStyle)")
                        .font(.caption).foregroundStyle(.secondary)
                } footer: {
                    Text("A voided rupture is kept as it was and can no longer be edited. It is not counted and not listed as unresolved.")
                }
            }

            Group {
                whenAndWhere
                dimensionsMarkersAndPrecipitants
                ratings
                texts
                if model.isLogged { clientResponse }
                followUp
            }
            .disabled(!model.isEditable)

            if !model.isLogged {
                Section {
                    ForEach(model.warnings, id: \.self) { Text($0).font(.footnote).foregroundStyle(.orange) }
                    ForEach(model.errors, id: \.field) { FieldErrorText(text: $0.description) }
                    Button("Log rupture") { run { try model.save() } }
                        .disabled(!model.errors.isEmpty)
                }
            } else {
                if model.isEditable {
                    Section {
                        ForEach(model.warnings, id: \.self) { Text($0).font(.footnote).foregroundStyle(.orange) }
                        if model.hasUnsavedChanges {
                            ForEach(model.errors, id: \.field) { FieldErrorText(text: $0.description) }
                        }
                        Button("Save changes") { run { try model.saveChanges() } }
                            .disabled(!model.hasUnsavedChanges || !model.errors.isEmpty)
                        Button("Discard changes", role: .destructive) { model.discardChanges() }
                            .disabled(!model.hasUnsavedChanges)
                    } footer: {
                        Text("Texts are saved as you type; other corrections when you save them.")
                    }
                }
                statusSection
                repairAttemptsSection
                if model.isEditable {
                    RepairAttemptSection(model: model, run: run)
                    Section {
                        Button("Void this rupture…", role: .destructive) {
                            voidReason = ""
                            confirmingVoid = true
                        }
                    } footer: {
                        Text("For a rupture logged in error. It stays in the record, read-only and marked voided.")
                    }
                }
            }
            FieldErrorText(text: message ?? model.errorMessage)
        }
        .navigationTitle(model.isLogged ? (model.isVoided ? "Voided rupture" : "Rupture") : "Log a rupture")
        .navigationBarTitleDisplayMode(.inline)
        .alert("Void this rupture?", isPresented: $confirmingVoid) {
            TextField("Reason (required)", text: $voidReason)
            Button("Void", role: .destructive) { run { try model.voidRupture(reason: voidReason) } }
                .disabled(voidReason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
            Button("Cancel", role: .cancel) {}
        } message: {
            Text("Say why it was logged in error. This cannot be undone; unsaved corrections are dropped.")
        }
    }

    // MARK: - Sections

    private var whenAndWhere: some View {
        Section("Rupture") {
            DatePicker("When", selection: $model.occurredAt)
            Picker("Session", selection: $model.sessionId) {
                Text("Between sessions").tag(String?.none)
                ForEach(model.sessions) { s in
                    Text("\(s.date.listStyle) · \(s.status.label)").tag(String?.some(s.id))
                }
            }
            if model.sessionId != nil {
                Picker("Minute in session", selection: $model.atMinute) {
                    Text("Not noted").tag(Int?.none)
                    ForEach(Array(stride(from: 0, through: 180, by: 5)), id: \.self) { Text("\($0) min").tag(Int?.some($0)) }
                    if let m = model.atMinute, m % 5 != 0 || m > 180 { Text("\(m) min").tag(Int?.some(m)) }
                }
            }
            Picker("Movement", selection: $model.movement) {
                ForEach(Movement.all, id: \.self) { Text($0.label).tag($0) }
            }
            Picker("Initiated by", selection: $model.initiatedBy) {
                ForEach(InitiatedBy.all, id: \.self) { Text($0.label).tag($0) }
            }
            Picker("Noticed by", selection: $model.detectedBy) {
                Text("Not noted").tag(DetectedBy?.none)
                ForEach(DetectedBy.all, id: \.self) { Text($0.label).tag(DetectedBy?.some($0)) }
            }
            Picker("Record", selection: $model.recordClass) {
                ForEach(RecordClass.all, id: \.self) { Text($0.label).tag($0) }
            }
            .disabled(model.isLogged)
        }
    }

    @ViewBuilder private var dimensionsMarkersAndPrecipitants: some View {
        Section("Alliance dimensions strained") {
            ForEach(AllianceDimension.all, id: \.self) { d in
                Toggle(d.label, isOn: Binding(get: { model.allianceDimensions.contains(d) }, set: { _ in model.toggle(d) }))
            }
        }
        ForEach(MarkerFamily.allCases, id: \.self) { family in
            Section(family.label) {
                ForEach(family.markers, id: \.self) { marker in
                    Toggle(marker.label, isOn: Binding(get: { model.markers.contains(marker) }, set: { _ in model.toggle(marker) }))
                }
            }
        }
        Section("Precipitants") {
            ForEach(Precipitant.all, id: \.self) { p in
                Toggle(p.label, isOn: Binding(get: { model.precipitants.contains(p) }, set: { _ in model.toggle(p) }))
            }
        }
    }

    private var ratings: some View {
        Section {
            Stepper("Significance: \(model.significance) of 5", value: $model.significance, in: 1...5)
            if model.isLogged {
                RatingPicker(title: "Client-reported intensity", value: $model.clientReportedIntensity)
                RatingPicker(title: "Resolution", value: $model.resolutionRating)
            }
        } footer: {
            Text("Impact on the collaboration: 1 low, 5 high (3RS).")
        }
    }

    private var texts: some View {
        Section("What happened") {
            TextEditor(text: textBinding(.narrative)).frame(minHeight: 90)
            TextField("Client's words (verbatim)", text: textBinding(.clientWords), axis: .vertical)
            TextField("My part in it", text: textBinding(.therapistContribution), axis: .vertical)
            RatingPicker(title: "My contribution (3RS)", value: $model.therapistContributionRating)
        }
    }

    private var clientResponse: some View {
        Section("Client's response") {
            ForEach(ClientResponse.all, id: \.self) { r in
                Toggle(r.label, isOn: Binding(get: { model.clientResponse.contains(r) }, set: { _ in model.toggle(r) }))
            }
        }
    }

    private var followUp: some View {
        Section("Follow-up") {
            Toggle("Follow-up planned", isOn: $model.followUpPlanned)
            TextField("Plan", text: textBinding(.followUpNote), axis: .vertical)
        }
    }

    private var statusSection: some View {
        Section {
            Picker("Status", selection: Binding(get: { model.status }, set: { s in run { try model.setStatus(s) } })) {
                ForEach(RuptureStatus.all, id: \.self) { Text($0.label).tag($0) }
            }
            .disabled(!model.isEditable)
            ForEach(model.statusHistory) { row in
                VStack(alignment: .leading, spacing: 2) {
                    Text(row.status.label).font(.subheadline)
                    Text([row.date.listStyle, row.byMe ? "you" : row.by,
                          row.sessionId == nil ? nil : "in the session of \(row.sessionDate?.listStyle ?? "another day")"]
                        .compactMap { $0 }.joined(separator: " · "))
                        .font(.caption).foregroundStyle(.secondary)
                }
            }
        } header: {
            Text("Status")
        } footer: {
            if model.isEditable {
                Text(model.currentSession.map { "Changes and repair attempts are recorded in the session of \($0.date.listStyle)." }
                     ?? "No session is happening now: changes and repair attempts are recorded between sessions.")
            }
        }
    }

    private var repairAttemptsSection: some View {
        Section("Repair attempts") {
            ForEach(model.repairHistory) { row in
                let a = row.attempt
                VStack(alignment: .leading, spacing: 2) {
                    Text(a.strategies.map(\.label).joined(separator: ", ")).font(.subheadline)
                    Text((a.immediate ? "Immediate" : "Exploratory") + (a.effect.map { " · effect \($0)/5" } ?? ""))
                        .font(.caption).foregroundStyle(.secondary)
                    Text([row.date.listStyle,
                          row.sessionId == nil ? "between sessions" : "in the session of \(row.sessionDate?.listStyle ?? "another day")"]
                        .joined(separator: " · "))
                        .font(.caption).foregroundStyle(.secondary)
                    if !a.clientResponse.isEmpty {
                        Text("Client: " + a.clientResponse.map(\.label).joined(separator: ", ")).font(.caption)
                    }
                }
            }
        }
    }

    /// A text field's binding: every change goes to the model as one splice (logged ruptures).
    private func textBinding(_ field: RuptureText) -> Binding<String> {
        Binding(get: { model.text(field) }, set: { model.edit(field, to: $0) })
    }

    private func run(_ body: () throws -> Void) {
        do { try body(); message = nil } catch { message = UserMessage.describe(error) }
    }
}

/// A 1–5 rating that may be left unrated (or set back to unrated).
struct RatingPicker: View {
    let title: String
    @Binding var value: Int?

    var body: some View {
        Picker(title, selection: $value) {
            Text("Not rated").tag(Int?.none)
            ForEach(1...5, id: \.self) { Text("\($0) of 5").tag(Int?.some($0)) }
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
