// A client's timeline: the WAI-SR alliance trend (Swift Charts, with drops marked and the weakest
// subscale named), then sessions, notes, ruptures (a voided one struck through) and measures newest
// first. From here a clinician adds a session, records what became of one (tap it: completed with
// its actual start and end, cancelled, no-show), starts a note, logs a rupture or enters a WAI-SR.
import Charts
import NotebookKit
import SwiftUI

/// Where the timeline navigates.
enum TimelineRoute: Hashable {
    case note(String)
    case rupture(String)
}

/// Timeline screen.
struct TimelineView: View {
    let session: NotebookSession
    @Bindable var model: TimelineModel
    @Environment(\.dismiss) private var dismiss
    @State private var sheet: Sheet?
    @State private var openedNote: String?
    @State private var loggingRupture = false
    @State private var outcome: SessionOutcomeForm?
    @State private var message: String?

    enum Sheet: Identifiable {
        case session, note, measure
        var id: Self { self }
    }

    var body: some View {
        List {
            if !model.allianceTotals.isEmpty {
                Section("Alliance (WAI-SR)") { AllianceChart(model: model) }
            }
            if !model.unresolvedRuptureIds.isEmpty {
                Label("\(model.unresolvedRuptureIds.count) unresolved rupture(s)", systemImage: "bolt.heart")
                    .foregroundStyle(.orange)
            }
            if model.ruptureCount + model.voidedRuptureCount > 0 {
                Text("\(model.ruptureCount) rupture(s) logged" + (model.voidedRuptureCount > 0 ? ", \(model.voidedRuptureCount) voided" : ""))
                    .font(.footnote).foregroundStyle(.secondary)
            }
            FieldErrorText(text: message ?? model.errorMessage)
            Section("Timeline") {
                ForEach(model.rows) { row in
                    switch row.kind {
                    case .note:
                        NavigationLink(value: TimelineRoute.note(row.id)) { TimelineRowView(row: row) }
                    case .rupture:
                        NavigationLink(value: TimelineRoute.rupture(row.id)) { TimelineRowView(row: row) }
                    case .session:
                        Button { run { outcome = try model.sessionOutcome(id: row.id) } } label: { TimelineRowView(row: row) }
                            .tint(.primary)
                    default:
                        TimelineRowView(row: row)
                    }
                }
            }
        }
        .navigationTitle(model.alias)
        .navigationDestination(for: TimelineRoute.self) { route in
            switch route {
            case let .note(id):
                ModelHost(make: { session.noteEditor(noteId: id) }) { NoteEditorView(model: $0) }
            case let .rupture(id):
                ModelHost(make: { session.rupture(id: id) }) { RuptureFormView(model: $0) }
            }
        }
        .navigationDestination(item: $openedNote) { id in
            ModelHost(make: { session.noteEditor(noteId: id) }) { NoteEditorView(model: $0) }
        }
        .navigationDestination(isPresented: $loggingRupture) {
            ModelHost(make: { session.newRupture(clientId: model.clientId, sessionId: model.sessions.first?.id) }) {
                RuptureFormView(model: $0)
            }
        }
        .toolbar {
            ToolbarItem(placement: .primaryAction) {
                Menu {
                    Button("New session", systemImage: "calendar.badge.plus") { sheet = .session }
                    Button("New note", systemImage: "doc.badge.plus") { sheet = .note }
                        .disabled(model.sessions.isEmpty)
                    Button("Log a rupture", systemImage: "bolt.heart") { loggingRupture = true }
                    Button("Enter WAI-SR", systemImage: "chart.xyaxis.line") { sheet = .measure }
                    Divider()
                    Menu("Client status") {
                        ForEach(ClientStatus.all, id: \.self) { status in
                            Button(status.label) { run { try model.setStatus(status) } }
                        }
                    }
                } label: {
                    Label("Add", systemImage: "plus")
                }
            }
        }
        .sheet(item: $sheet) { which in
            switch which {
            case .session: NewSessionSheet(model: model)
            case .note: NewNoteSheet(model: model) { id in openedNote = id }
            case .measure:
                ModelHost(make: { session.measureForm(clientId: model.clientId, sessionId: model.sessions.first?.id) }) {
                    MeasureSheet(model: $0)
                }
            }
        }
        .sheet(item: $outcome) { form in SessionOutcomeSheet(model: model, form: form) }
        .onChange(of: model.isErased) { _, erased in if erased { dismiss() } }
        .refreshable { model.reload() }
    }

    private func run(_ body: () throws -> Void) {
        do { try body(); message = nil } catch { message = UserMessage.describe(error) }
    }
}

/// One timeline line.
struct TimelineRowView: View {
    let row: TimelineRow
    var body: some View {
        VStack(alignment: .leading, spacing: 2) {
            // A voided rupture stays listed, struck through and dimmed.
            Label { Text(row.title).strikethrough(row.isVoided) } icon: { Image(systemName: icon) }
                .foregroundStyle(row.isVoided ? HierarchicalShapeStyle.secondary : HierarchicalShapeStyle.primary)
            if let date = row.date { Text(date.listStyle).font(.caption).foregroundStyle(.secondary) }
        }
        .accessibilityLabel(row.isVoided ? "\(row.title), logged in error" : row.title)
    }

    private var icon: String {
        switch row.kind {
        case .session: "calendar"
        case let .note(_, state, diverged): diverged ? "exclamationmark.bubble" : (state == "draft" ? "doc.text" : "checkmark.seal")
        case .rupture: row.isVoided ? "xmark.octagon" : "bolt.heart"
        case .measure: "chart.xyaxis.line"
        case .unreadable: "questionmark.folder"
        }
    }
}

/// The alliance trend: the WAI-SR total (12–60) or the three subscales (4–20), drops marked.
struct AllianceChart: View {
    let model: TimelineModel
    @State private var subscales = false

    var body: some View {
        VStack(alignment: .leading, spacing: 8) {
            Picker("Scale", selection: $subscales) {
                Text("Total").tag(false)
                Text("Task · Bond · Goal").tag(true)
            }
            .pickerStyle(.segmented)
            Chart {
                ForEach(subscales ? model.allianceSubscales : model.allianceTotals) { sample in
                    LineMark(x: .value("Date", sample.date), y: .value("Score", sample.value))
                        .foregroundStyle(by: .value("Scale", sample.series.rawValue))
                    PointMark(x: .value("Date", sample.date), y: .value("Score", sample.value))
                        .foregroundStyle(by: .value("Scale", sample.series.rawValue))
                }
                if !subscales {
                    ForEach(model.allianceDrops, id: \.measureId) { drop in
                        RuleMark(x: .value("Date", drop.date))
                            .foregroundStyle(.red.opacity(0.35))
                            .annotation(position: .top, alignment: .center) {
                                Text("−\(drop.from - drop.to)").font(.caption2).foregroundStyle(.red)
                            }
                    }
                }
            }
            .chartYScale(domain: subscales ? 4...20 : 12...60)
            .frame(height: 180)
            if let lowest = model.lowestSubscale {
                Text("Lowest at the last administration: \(lowest.rawValue.lowercased())")
                    .font(.footnote).foregroundStyle(.secondary)
            }
            if !model.allianceDrops.isEmpty {
                Text("Drops of \(model.dropThreshold) or more may signal a rupture.")
                    .font(.footnote).foregroundStyle(.secondary)
            }
        }
    }
}

/// New session.
struct NewSessionSheet: View {
    let model: TimelineModel
    @Environment(\.dismiss) private var dismiss
    @State private var form = SessionForm(start: .now)
    @State private var message: String?

    var body: some View {
        NavigationStack {
            Form {
                DatePicker("Start", selection: $form.start)
                Stepper("Length: \(form.minutes) min", value: $form.minutes, in: 5...240, step: 5)
                Picker("Status", selection: $form.status) {
                    ForEach(SessionStatus.all, id: \.self) { Text($0.label).tag($0) }
                }
                Picker("Modality", selection: $form.modality) {
                    ForEach(Modality.all, id: \.self) { Text($0.label).tag($0) }
                }
                Picker("Setting", selection: $form.setting) {
                    ForEach(Setting.all, id: \.self) { Text($0.label).tag($0) }
                }
                TextField("CPT code (optional)", text: $form.cptCode).keyboardType(.numbersAndPunctuation)
                ForEach(form.errors, id: \.field) { FieldErrorText(text: $0.description) }
                FieldErrorText(text: message)
            }
            .navigationTitle("New session")
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel") { dismiss() } }
                ToolbarItem(placement: .confirmationAction) {
                    Button("Add") {
                        do { try model.addSession(form); dismiss() } catch { message = UserMessage.describe(error) }
                    }
                    .disabled(!form.errors.isEmpty)
                }
            }
        }
    }
}

/// What became of a session: its status and, when completed, its actual start and end. The
/// rupture form takes the recorded end as the end of the session happening now.
struct SessionOutcomeSheet: View {
    let model: TimelineModel
    @State var form: SessionOutcomeForm
    @Environment(\.dismiss) private var dismiss
    @State private var message: String?

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    Picker("Status", selection: $form.status) {
                        ForEach(SessionStatus.all, id: \.self) { Text($0.label).tag($0) }
                    }
                    if form.takesTimes {
                        DatePicker("Started", selection: $form.actualStart)
                        DatePicker("Ended", selection: $form.actualEnd)
                    }
                } footer: {
                    Text("Scheduled for \(form.scheduledStart.listStyle).")
                }
                ForEach(form.errors, id: \.field) { FieldErrorText(text: $0.description) }
                FieldErrorText(text: message)
            }
            .navigationTitle("Session")
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel") { dismiss() } }
                ToolbarItem(placement: .confirmationAction) {
                    Button("Save") {
                        do { try model.recordOutcome(form); dismiss() } catch { message = UserMessage.describe(error) }
                    }
                    .disabled(!form.errors.isEmpty)
                }
            }
        }
    }
}

/// New note: pick the session and the format.
struct NewNoteSheet: View {
    let model: TimelineModel
    let opened: (String) -> Void
    @Environment(\.dismiss) private var dismiss
    @State private var sessionId: String?
    @State private var format: NoteFormat = .soap
    @State private var message: String?

    var body: some View {
        NavigationStack {
            Form {
                Picker("Session", selection: $sessionId) {
                    ForEach(model.sessions) { s in Text(s.date?.listStyle ?? "Session").tag(Optional(s.id)) }
                }
                Picker("Format", selection: $format) {
                    ForEach(NoteFormat.all, id: \.self) { Text($0.label).tag($0) }
                }
                .pickerStyle(.inline)
                FieldErrorText(text: message)
            }
            .navigationTitle("New note")
            .navigationBarTitleDisplayMode(.inline)
            .onAppear { sessionId = sessionId ?? model.sessions.first?.id }
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel") { dismiss() } }
                ToolbarItem(placement: .confirmationAction) {
                    Button("Start") {
                        guard let sessionId else { return }
                        do {
                            let id = try model.startNote(sessionId: sessionId, format: format)
                            dismiss()
                            opened(id)
                        } catch {
                            message = UserMessage.describe(error)
                        }
                    }
                    .disabled(sessionId == nil)
                }
            }
        }
    }
}

/// WAI-SR entry: item numbers and 1–5 scores only (the item wording is licensed; use the clinic's
/// own form alongside).
struct MeasureSheet: View {
    @Bindable var model: MeasureFormModel
    @Environment(\.dismiss) private var dismiss
    @State private var message: String?

    var body: some View {
        NavigationStack {
            Form {
                DatePicker("Administered", selection: $model.administeredAt)
                ForEach([AllianceSeries.task, .bond, .goal], id: \.self) { series in
                    Section(series.rawValue) {
                        ForEach(MeasureFormModel.items(of: series), id: \.self) { item in
                            Picker("Item \(item)", selection: Binding(
                                get: { model.scores[item] ?? 0 },
                                set: { model.scores[item] = $0 == 0 ? nil : $0 })) {
                                Text("—").tag(0)
                                ForEach(1...5, id: \.self) { score in
                                    Text("\(score) \(MeasureFormModel.scaleLabels[score - 1])").tag(score)
                                }
                            }
                        }
                    }
                }
                if !model.isComplete { Text("Unanswered items make the result incomplete.").font(.footnote) }
                ForEach(model.errors, id: \.field) { FieldErrorText(text: $0.description) }
                FieldErrorText(text: message)
            }
            .navigationTitle("WAI-SR")
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel") { dismiss() } }
                ToolbarItem(placement: .confirmationAction) {
                    Button("Save") {
                        do { try model.save(); dismiss() } catch { message = UserMessage.describe(error) }
                    }
                    .disabled(!model.errors.isEmpty)
                }
            }
        }
    }
}
