// The conflict inbox: fields two devices changed at the same time (a client's status, a note's
// format or risk levels, a rupture's significance), headed by the client's alias. Each shows every
// value with the device that wrote it and when, and links to the record (a note or rupture opens
// its editor, a client its timeline); choosing a value resolves the conflict on every device at
// the next sync.
import NotebookKit
import SwiftUI

/// Conflict inbox screen.
struct ConflictInboxView: View {
    let session: NotebookSession
    let inbox: ConflictInboxModel
    @State private var choice: (ConflictItem, ConflictOption)?

    var body: some View {
        NavigationStack {
            List {
                ForEach(inbox.items) { item in
                    Section {
                        NavigationLink(value: item) {
                            Label("Open the \(item.recordKind.label.lowercased())", systemImage: "arrow.forward.circle")
                        }
                        ForEach(item.options) { option in
                            Button {
                                choice = (item, option)
                            } label: {
                                VStack(alignment: .leading, spacing: 2) {
                                    Text(option.label).font(.headline)
                                    Text([option.device, option.date?.listStyle].compactMap { $0 }.joined(separator: " · "))
                                        .font(.caption).foregroundStyle(.secondary)
                                }
                            }
                        }
                    } header: {
                        Text([item.clientAlias ?? "Unreadable client", item.title].joined(separator: " — "))
                    }
                }
                FieldErrorText(text: inbox.errorMessage)
            }
            .overlay {
                if inbox.items.isEmpty {
                    ContentUnavailableView("No conflicts", systemImage: "checkmark.circle",
                                           description: Text("When two devices change the same rating or status, it waits here for you."))
                }
            }
            .navigationTitle("Conflicts")
            .navigationDestination(for: ConflictItem.self) { item in
                switch item.recordKind {
                case .rupture:
                    ModelHost(make: { session.rupture(id: item.recordId) }) { RuptureFormView(model: $0) }
                case .note:
                    ModelHost(make: { session.noteEditor(noteId: item.recordId) }) { NoteEditorView(model: $0) }
                default:
                    ModelHost(make: { session.timeline(clientId: item.clientId) }) { TimelineView(session: session, model: $0) }
                }
            }
            .refreshable { inbox.reload() }
            .confirmationDialog("Keep this value?", isPresented: Binding(get: { choice != nil }, set: { if !$0 { choice = nil } }),
                                titleVisibility: .visible, presenting: choice) { pair in
                Button("Keep “\(pair.1.label)”") { inbox.resolve(pair.0, choosing: pair.1) }
            } message: { pair in
                Text("\(pair.0.title): the other values are set aside on every device.")
            }
        }
    }
}
