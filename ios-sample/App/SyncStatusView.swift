// Sync status: progress of a running sync (pushed and still to push, pulled and still to pull),
// what the last sync did, local changes waiting to be pushed, and sync / cancel buttons.
import NotebookKit
import SwiftUI

/// Sync status screen.
struct SyncStatusView: View {
    let sync: SyncModel

    var body: some View {
        NavigationStack {
            List {
                Section {
                    switch sync.phase {
                    case .notConfigured:
                        Label("Set a relay address in Settings to sync.", systemImage: "icloud.slash")
                    case .syncing:
                        if let fraction = sync.progress.fraction {
                            ProgressView(value: fraction) { Text("Syncing…") }
                        } else {
                            ProgressView("Syncing…")
                        }
                        LabeledContent("Sent", value: "\(sync.progress.pushed) of \(sync.progress.pushed + sync.progress.toPush)")
                        LabeledContent("Received", value: "\(sync.progress.pulled), \(sync.progress.remaining) to go")
                    case .idle:
                        Label("Not synced yet in this session", systemImage: "icloud")
                    case .succeeded:
                        Label("Up to date", systemImage: "checkmark.icloud")
                    case .cancelled:
                        Label("Cancelled — the next sync resumes", systemImage: "pause.circle")
                    case .failed:
                        Label("Sync failed", systemImage: "exclamationmark.icloud").foregroundStyle(.red)
                    }
                    FieldErrorText(text: sync.errorMessage)
                }
                Section("This device") {
                    LabeledContent("Changes waiting to sync", value: "\(sync.pendingChanges)")
                    if let date = sync.lastSynced {
                        LabeledContent("Last synced", value: date.formatted(.relative(presentation: .named)))
                    }
                }
                if let report = sync.lastReport {
                    Section("Last sync") {
                        LabeledContent("Sent", value: "\(report.pushed)")
                        LabeledContent("Received", value: "\(report.pulled)")
                        LabeledContent("Applied", value: "\(report.applied)")
                        if report.rejected > 0 { LabeledContent("Refused", value: "\(report.rejected)") }
                    }
                }
                Section {
                    if sync.isSyncing {
                        Button("Cancel", role: .cancel) { sync.cancel() }
                    } else {
                        Button("Sync now") { Task { await sync.sync() } }
                            .disabled(sync.phase == .notConfigured)
                    }
                }
            }
            .navigationTitle("Sync")
            .onAppear { sync.refresh() }
            .refreshable { await sync.sync() }
        }
    }
}
