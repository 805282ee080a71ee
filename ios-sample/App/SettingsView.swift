// Settings: relay address, signer name, lock timeout and "lock now", this device's name, devices
// (names or short ids, join dates, this device marked; revoke a lost one), invites for a new
// device, erasing a client everywhere, and resetting this device.
import NotebookKit
import SwiftUI

/// Settings screen.
struct SettingsView: View {
    let app: AppModel
    let session: NotebookSession
    @State private var revoking: DeviceRow?
    @State private var resetting = false

    var body: some View {
        @Bindable var settings = session.settings
        NavigationStack {
            Form {
                Section {
                    TextField("https://relay.example.org", text: $settings.relayText)
                        .keyboardType(.URL).textInputAutocapitalization(.never).autocorrectionDisabled()
                        .onSubmit { settings.saveRelay() }
                    FieldErrorText(text: settings.relayError?.description)
                    Button("Save relay address") { settings.saveRelay() }
                    // A clinic's relay registers a new notebook only with its administrator's token.
                    SecureField(settings.hasRegistrationToken ? "Registration token (saved)" : "Registration token (if your relay asks)",
                                text: $settings.registrationTokenText)
                        .textInputAutocapitalization(.never).autocorrectionDisabled()
                        .onSubmit { settings.saveRegistrationToken() }
                    FieldErrorText(text: settings.registrationTokenError)
                    Button("Save registration token") { settings.saveRegistrationToken() }
                } header: {
                    Text("Relay")
                } footer: {
                    Text("The relay stores only encrypted changes. Leave empty to keep this notebook on this device only.")
                }

                Section("Signing") {
                    TextField("Name on signatures", text: $settings.signerName)
                        .textContentType(.name)
                }

                Section("Security") {
                    Picker("Lock after", selection: $settings.inactivityTimeout) {
                        ForEach(NotebookSettings.timeoutChoices, id: \.self) { seconds in
                            Text(Duration.seconds(seconds).formatted(.units(allowed: [.minutes]))).tag(seconds)
                        }
                    }
                    Button("Lock now", systemImage: "lock") { app.lock() }
                }

                Section {
                    TextField("Name this device (e.g. Clinic iPad)", text: $settings.deviceName)
                        .onSubmit { settings.saveDeviceName() }
                    Button("Save device name") { settings.saveDeviceName() }
                        .disabled(settings.deviceNameError != nil || settings.deviceName == (settings.thisDevice?.name ?? ""))
                } header: {
                    Text("This device")
                } footer: {
                    Text("Your other devices show this name in their device list and conflict inbox after the next sync.")
                }

                Section {
                    ForEach(settings.devices) { device in
                        HStack {
                            Image(systemName: device.isThisDevice ? "iphone" : "ipad.and.iphone")
                            VStack(alignment: .leading, spacing: 2) {
                                Text(device.label)
                                Text([device.isThisDevice ? "This device" : nil,
                                      device.addedAt.map { "joined \($0.listStyle)" }].compactMap { $0 }.joined(separator: " · "))
                                    .font(.caption).foregroundStyle(.secondary)
                            }
                            Spacer()
                            if device.revoked { Text("Revoked").font(.caption).foregroundStyle(.red) }
                        }
                        .swipeActions {
                            if !device.isThisDevice && !device.revoked {
                                Button("Revoke", role: .destructive) { revoking = device }
                            }
                        }
                    }
                    NavigationLink("Invite a device") { InviteView(settings: settings) }
                } header: {
                    Text("Devices")
                } footer: {
                    Text("In the order they joined. Revoke a lost device: every device refuses its changes from the next sync on.")
                }

                Section {
                    NavigationLink("Erase a client…") { EraseClientView(session: session) }
                    Button("Reset this device…", role: .destructive) { resetting = true }
                } header: {
                    Text("Erasure")
                }

                FieldErrorText(text: settings.errorMessage)
            }
            .navigationTitle("Settings")
            .onAppear { settings.reloadDevices() }
            .confirmationDialog("Revoke this device?", isPresented: Binding(get: { revoking != nil }, set: { if !$0 { revoking = nil } }),
                                titleVisibility: .visible, presenting: revoking) { device in
                Button("Revoke \(device.label)", role: .destructive) { settings.revoke(device) }
            } message: { _ in
                Text("It can no longer sync. Records already on it stay there; erase clients to destroy their keys everywhere.")
            }
            .confirmationDialog("Delete this device's notebook?", isPresented: $resetting, titleVisibility: .visible) {
                Button("Delete from this device", role: .destructive) { app.resetThisDevice() }
            } message: {
                Text("Synced records stay on your other devices. Changes not yet synced (\(session.sync.pendingChanges)) are lost.")
            }
        }
    }
}

/// Making an invite: the code is shown here to be typed on the new device; the encrypted invite is
/// shared separately.
struct InviteView: View {
    let settings: SettingsModel
    @State private var working = false

    var body: some View {
        Form {
            if let invite = settings.invite {
                Section {
                    Text(invite.code)
                        .font(.system(.largeTitle, design: .monospaced).bold())
                        .textSelection(.enabled)
                        .frame(maxWidth: .infinity)
                } header: {
                    Text("One-time code")
                } footer: {
                    Text("Read it out or type it on the new device. Do not send it along with the invite.")
                }
                Section {
                    ShareLink(item: invite.payloadText) { Label("Share the invite", systemImage: "square.and.arrow.up") }
                    Text("Expires \(invite.expires.listStyle)").font(.footnote)
                    Button("Done") { settings.dismissInvite() }
                } header: {
                    Text("Invite")
                }
            } else {
                Section {
                    Button {
                        working = true
                        Task {
                            await settings.createInvite()
                            working = false
                        }
                    } label: {
                        if working { ProgressView() } else { Text("Create an invite") }
                    }
                    .disabled(working)
                } footer: {
                    Text("The new device joins with the invite and the code, then syncs through your relay. Invites expire after a day and work once.")
                }
            }
            FieldErrorText(text: settings.errorMessage)
        }
        .navigationTitle("Invite a device")
    }
}

/// Erasing a client: pick the client, type its code, confirm.
struct EraseClientView: View {
    let session: NotebookSession
    @Environment(\.dismiss) private var dismiss
    @State private var clientId: String?
    @State private var confirmation = ""
    @State private var confirming = false

    var body: some View {
        Form {
            Picker("Client", selection: $clientId) {
                Text("Choose…").tag(String?.none)
                ForEach(session.clients.clients) { Text($0.alias).tag(Optional($0.id)) }
            }
            if let alias = selectedAlias {
                Section {
                    TextField("Type \(alias) to confirm", text: $confirmation)
                        .textInputAutocapitalization(.characters).autocorrectionDisabled()
                    Button("Erase \(alias) everywhere", role: .destructive) { confirming = true }
                        .disabled(confirmation != alias)
                } footer: {
                    Text("Erasure destroys this client's keys. Their notes, sessions, ruptures and measures become unreadable on every device at the next sync, and the relay drops what it holds. This cannot be undone.")
                }
            }
            FieldErrorText(text: session.settings.errorMessage)
        }
        .navigationTitle("Erase a client")
        .onChange(of: clientId) { _, _ in confirmation = "" }
        .confirmationDialog("Erase this client permanently?", isPresented: $confirming, titleVisibility: .visible) {
            Button("Erase", role: .destructive) {
                guard let clientId else { return }
                if session.settings.eraseClient(id: clientId, confirmation: confirmation) {
                    Task { await session.sync.sync() }
                    dismiss()
                }
            }
        }
    }

    private var selectedAlias: String? { session.clients.clients.first { $0.id == clientId }?.alias }
}
