// The client list: pseudonymous aliases with status, search, a filter for inactive clients, and
// the new-client sheet. Tapping a client opens its timeline.
import NotebookKit
import SwiftUI

/// Client list screen.
struct ClientListView: View {
    let session: NotebookSession
    @State private var adding = false

    var body: some View {
        @Bindable var list = session.clients
        NavigationStack {
            List {
                if list.unreadableCount > 0 {
                    Label("\(list.unreadableCount) client record(s) cannot be read", systemImage: "exclamationmark.triangle")
                        .foregroundStyle(.orange)
                }
                ForEach(list.visible) { client in
                    NavigationLink(value: client.id) {
                        HStack {
                            Text(client.alias).font(.headline.monospaced())
                            Spacer()
                            Text(client.status.label).font(.caption).foregroundStyle(.secondary)
                        }
                    }
                }
            }
            .overlay {
                if list.clients.isEmpty {
                    ContentUnavailableView("No clients yet", systemImage: "person.crop.circle.badge.plus",
                                           description: Text("Add a client with a pseudonymous code, never a name."))
                } else if list.visible.isEmpty {
                    ContentUnavailableView.search(text: list.query)
                }
            }
            .searchable(text: $list.query, prompt: "Alias")
            .navigationTitle("Clients")
            .navigationDestination(for: String.self) { clientId in
                ModelHost(make: { session.timeline(clientId: clientId) }) { timeline in
                    TimelineView(session: session, model: timeline)
                }
            }
            .toolbar {
                ToolbarItem(placement: .primaryAction) {
                    Button { adding = true } label: { Label("Add client", systemImage: "plus") }
                }
                ToolbarItem(placement: .topBarLeading) {
                    Toggle(isOn: $list.showInactive) { Label("Show discharged", systemImage: "line.3.horizontal.decrease") }
                        .toggleStyle(.button)
                }
            }
            .sheet(isPresented: $adding) { NewClientSheet(list: list) }
            .refreshable { list.reload() }
        }
    }
}

/// The new-client form.
struct NewClientSheet: View {
    let list: ClientListModel
    @Environment(\.dismiss) private var dismiss
    @State private var form = NewClientForm(jurisdiction: "US")
    @State private var birthYearText = ""
    @State private var message: String?

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    TextField("Alias code, e.g. C-0142", text: $form.alias)
                        .textInputAutocapitalization(.characters).autocorrectionDisabled()
                    FieldErrorText(text: shown("alias"))
                } footer: {
                    Text("Use a pseudonymous code. Names and contact details do not belong in the notebook.")
                }
                Section("Details") {
                    TextField("Jurisdiction (ISO 3166, e.g. US-CA)", text: $form.jurisdiction)
                        .textInputAutocapitalization(.characters).autocorrectionDisabled()
                    FieldErrorText(text: shown("jurisdiction"))
                    TextField("Birth year (optional)", text: $birthYearText).keyboardType(.numberPad)
                    FieldErrorText(text: shown("birth year"))
                    TextField("Intake date YYYY-MM-DD (optional)", text: $form.intakeDate)
                        .keyboardType(.numbersAndPunctuation)
                    FieldErrorText(text: shown("intake date"))
                }
                FieldErrorText(text: message)
            }
            .navigationTitle("New client")
            .navigationBarTitleDisplayMode(.inline)
            .onChange(of: birthYearText) { _, text in form.birthYear = Int(text) ?? (text.isEmpty ? nil : -1) }
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel") { dismiss() } }
                ToolbarItem(placement: .confirmationAction) {
                    Button("Add") {
                        do {
                            try list.addClient(form)
                            dismiss()
                        } catch {
                            message = UserMessage.describe(error)
                        }
                    }
                    .disabled(!form.errors.isEmpty)
                }
            }
        }
    }

    /// Shows a field's problem once something was typed into the form.
    private func shown(_ field: String) -> String? {
        guard !form.alias.isEmpty || !birthYearText.isEmpty || !form.intakeDate.isEmpty else { return nil }
        return form.errors.first { $0.field == field }?.reason
    }
}
