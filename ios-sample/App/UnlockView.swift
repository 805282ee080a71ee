// Setup (create a notebook or join one with an invite), unlock behind Face ID / Touch ID or the
// passcode, and the dead end of a vault whose key is gone.
import NotebookKit
import SwiftUI

/// Unlock screen.
struct UnlockView: View {
    let app: AppModel

    var body: some View {
        VStack(spacing: 24) {
            Spacer()
            Image(systemName: "lock.fill").font(.system(size: 56)).foregroundStyle(.tint)
            Text("Notebook locked").font(.title2.bold())
            if app.lockReason == .inactivity || app.lockReason == .background {
                Text("Locked after inactivity.").foregroundStyle(.secondary)
            }
            if let error = app.lastError {
                Text(error.message).foregroundStyle(.red).multilineTextAlignment(.center)
            }
            Button {
                Task { await app.unlock() }
            } label: {
                Label(unlockTitle, systemImage: unlockIcon).frame(maxWidth: .infinity)
            }
            .buttonStyle(.borderedProminent)
            .controlSize(.large)
            .disabled(app.isBusy)
            Spacer()
        }
        .padding(32)
        .task {
            // Offer the prompt at once when the app opens on this screen.
            if app.phase == .locked && app.lastError == nil && app.lockReason == nil { await app.unlock() }
        }
    }

    private var unlockTitle: String {
        switch app.gateKind {
        case .faceID: "Unlock with Face ID"
        case .touchID: "Unlock with Touch ID"
        case .opticID: "Unlock with Optic ID"
        case .passcode, .none: "Unlock"
        }
    }

    private var unlockIcon: String {
        switch app.gateKind {
        case .faceID: "faceid"
        case .touchID: "touchid"
        case .opticID: "opticid"
        case .passcode, .none: "lock.open"
        }
    }
}

/// First launch: create a notebook, or join one from another device.
struct SetupView: View {
    let app: AppModel
    @State private var joining = false

    var body: some View {
        NavigationStack {
            VStack(spacing: 20) {
                Spacer()
                Image(systemName: "book.closed.fill").font(.system(size: 56)).foregroundStyle(.tint)
                Text("Mend notebook").font(.largeTitle.bold())
                Text("Notes and rupture logs stay encrypted on this device. A relay, if you use one, only ever sees ciphertext.")
                    .multilineTextAlignment(.center).foregroundStyle(.secondary)
                if let error = app.lastError, !joining {
                    Text(error.message).foregroundStyle(.red).multilineTextAlignment(.center)
                }
                Button {
                    Task { await app.createVault() }
                } label: {
                    Text("Create a new notebook").frame(maxWidth: .infinity)
                }
                .buttonStyle(.borderedProminent).controlSize(.large)
                .disabled(app.isBusy)
                Button("Join from another device") { joining = true }
                    .controlSize(.large)
                Spacer()
            }
            .padding(32)
            .navigationDestination(isPresented: $joining) {
                ModelHost(make: { JoinVaultModel(app: app) }) { model in
                    JoinView(app: app, model: model)
                }
            }
        }
    }
}

/// Joining with an invite: paste the invite, type the code shown on the other device.
struct JoinView: View {
    let app: AppModel
    @Bindable var model: JoinVaultModel

    var body: some View {
        Form {
            Section {
                TextField("Paste the invite", text: $model.inviteText, axis: .vertical)
                    .lineLimit(3...6)
                    .font(.system(.footnote, design: .monospaced))
                    .textInputAutocapitalization(.never).autocorrectionDisabled()
                PasteButton(payloadType: String.self) { strings in
                    if let s = strings.first { model.inviteText = s }
                }
            } header: {
                Text("Invite")
            } footer: {
                Text("On the other device: Settings → Devices → Invite a device.")
            }
            Section("One-time code") {
                TextField("ABCD-EFGH-JKMN", text: $model.code)
                    .font(.system(.title3, design: .monospaced))
                    .textInputAutocapitalization(.characters).autocorrectionDisabled()
            }
            Section("Relay") {
                TextField("https://relay.example.org", text: $model.relayText)
                    .keyboardType(.URL).textInputAutocapitalization(.never).autocorrectionDisabled()
            }
            Section {
                ForEach(model.errors, id: \.field) { e in FieldErrorText(text: e.description) }
                if let error = app.lastError { FieldErrorText(text: error.message) }
                Button {
                    Task { await model.join() }
                } label: {
                    if model.isJoining { ProgressView() } else { Text("Join") }
                }
                .disabled(!model.errors.isEmpty || model.isJoining)
            }
        }
        .navigationTitle("Join a notebook")
    }
}

/// The vault exists but its key is gone (e.g. restored onto a new phone): it cannot be opened.
struct KeyMissingView: View {
    let app: AppModel
    @State private var confirming = false

    var body: some View {
        VStack(spacing: 20) {
            Spacer()
            Image(systemName: "key.slash").font(.system(size: 56)).foregroundStyle(.orange)
            Text("Notebook key missing").font(.title2.bold())
            Text(UnlockError.keyMissing.message).multilineTextAlignment(.center).foregroundStyle(.secondary)
            Button("Reset this device", role: .destructive) { confirming = true }
                .buttonStyle(.borderedProminent)
            Spacer()
        }
        .padding(32)
        .confirmationDialog("Delete the notebook file on this device?", isPresented: $confirming, titleVisibility: .visible) {
            Button("Delete and start over", role: .destructive) { app.resetThisDevice() }
        } message: {
            Text("Records that were synced stay on your other devices. Unsynced changes on this device are lost.")
        }
    }
}
