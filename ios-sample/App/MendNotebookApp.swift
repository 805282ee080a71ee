// App entry: builds the device environment (Keychain, LocalAuthentication, UserDefaults, the
// vault in Application Support), routes between setup, unlock and the notebook, locks after
// inactivity and in the background, and hides content from the app switcher.
// iOS 17+ (Observation). Not compiled on the Linux machine Mend is developed on: see README.md.
import NotebookKit
import SwiftUI

@main
struct MendNotebookApp: App {
    @State private var app = AppModel(environment: .device)
    @Environment(\.scenePhase) private var scenePhase

    var body: some Scene {
        WindowGroup {
            RootView(app: app)
        }
        .onChange(of: scenePhase) { _, phase in
            switch phase {
            case .background: app.didEnterBackground()
            case .active: app.didBecomeActive()
            default: break
            }
        }
    }
}

extension NotebookEnvironment {
    /// The real device: the vault under Application Support (protected until first unlock after
    /// boot while open, excluded from backups because its key never leaves this device), the key
    /// in the Keychain, Face ID / Touch ID with passcode fallback.
    @MainActor static var device: NotebookEnvironment {
        let support = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
        var folder = support.appendingPathComponent("Mend", isDirectory: true)
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        try? folder.setResourceValues(values)
        try? FileManager.default.setAttributes([.protectionKey: FileProtectionType.completeUnlessOpen], ofItemAtPath: folder.path)
        return NotebookEnvironment(
            vaultURL: folder.appendingPathComponent("notebook.mend"),
            keyStore: KeychainKeyStore(),
            gate: LocalAuthenticationGate(),
            settings: UserDefaultsSettingsStore())
    }
}

/// Chooses the screen for the app's phase.
struct RootView: View {
    let app: AppModel
    @Environment(\.scenePhase) private var scenePhase

    var body: some View {
        Group {
            switch app.phase {
            case .setup: SetupView(app: app)
            case .locked: UnlockView(app: app)
            case .keyMissing: KeyMissingView(app: app)
            case .unlocked:
                if let session = app.session {
                    NotebookTabs(app: app, session: session)
                } else {
                    UnlockView(app: app)
                }
            }
        }
        // Nothing clinical in the app switcher's snapshot.
        .overlay {
            if scenePhase != .active && app.phase == .unlocked { PrivacyCover() }
        }
    }
}

/// The unlocked notebook: clients, conflicts, sync, settings. Records activity on every touch,
/// checks the inactivity timeout every few seconds, and syncs now and then.
struct NotebookTabs: View {
    let app: AppModel
    let session: NotebookSession

    var body: some View {
        TabView {
            ClientListView(session: session)
                .tabItem { Label("Clients", systemImage: "person.2") }
            ConflictInboxView(session: session, inbox: session.conflicts)
                .tabItem { Label("Conflicts", systemImage: "exclamationmark.2") }
                .badge(session.conflicts.count)
            SyncStatusView(sync: session.sync)
                .tabItem { Label("Sync", systemImage: "arrow.triangle.2.circlepath") }
            SettingsView(app: app, session: session)
                .tabItem { Label("Settings", systemImage: "gear") }
        }
        .simultaneousGesture(TapGesture().onEnded { app.recordActivity() })
        .task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(5))
                app.tick()
            }
        }
        .task {
            // Sync when the notebook opens and every five minutes while it stays open (a sync
            // is not user activity, so it never postpones the lock).
            while !Task.isCancelled {
                await session.sync.sync()
                try? await Task.sleep(for: .seconds(300))
            }
        }
    }
}

/// Covers the screen while the app is inactive.
struct PrivacyCover: View {
    var body: some View {
        ZStack {
            Rectangle().fill(.background)
            Label("Mend", systemImage: "lock.fill").font(.title)
        }
        .ignoresSafeArea()
    }
}

/// Makes a view model once, when the view first appears, and keeps it for the view's lifetime
/// (a model made in `init` would be remade, and reloaded, on every parent update).
struct ModelHost<Model: AnyObject, Content: View>: View {
    let make: () -> Model
    @ViewBuilder let content: (Model) -> Content
    @State private var model: Model?

    var body: some View {
        Group {
            if let model { content(model) } else { ProgressView() }
        }
        .onAppear { if model == nil { model = make() } }
    }
}

/// A red line under a field.
struct FieldErrorText: View {
    let text: String?
    var body: some View {
        if let text { Text(text).font(.footnote).foregroundStyle(.red) }
    }
}

extension Date {
    /// Short date and time for lists.
    var listStyle: String { formatted(date: .abbreviated, time: .shortened) }
}
