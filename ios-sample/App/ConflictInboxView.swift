// The conflict inbox: fields two devices changed at the same time (a client's status, a note's
// format or risk levels, a rupture's significance). Each shows every value with the device that
// wrote it and when; choosing one resolves the conflict on every device at the next sync.
import NotebookKit
import SwiftUI

/// Conflict inbox screen.
struct ConflictInboxView: View {
    let inbox: ConflictInboxModel
    @State private var choice: (ConflictItem, ConflictOption)?

    var body: some View {
        NavigationStack {
            List {
                ForEach(inbox.items) { item in
                    Section {
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
                        Text([item.title, item.clientAlias].compactMap { $0 }.joined(separator: " — "))
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
