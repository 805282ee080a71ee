// Sync status: runs a sync off the main thread through the relay the settings name, shows its
// progress (bundles pushed and still to push, bundles pulled and still to pull), lets the user
// cancel (the next sync resumes), counts local changes not yet pushed, and fans the records a sync
// applied out to the other screens.
import Foundation
import Mend
import Observation

/// A sync's progress as the status screen shows it.
public struct SyncProgressInfo: Equatable, Sendable {
    /// Bundles pushed so far.
    public var pushed: UInt64 = 0
    /// Local bundles still to push.
    public var toPush: UInt64 = 0
    /// Bundles pulled so far.
    public var pulled: UInt64 = 0
    /// Bundles the relay still holds for this device.
    public var remaining: UInt64 = 0

    /// Done so far, 0…1; nil before the first count arrives.
    public var fraction: Double? {
        let total = pushed + toPush + pulled + remaining
        guard total > 0 else { return nil }
        return min(1, Double(pushed + pulled) / Double(total))
    }

    init(_ p: SyncProgress) {
        pushed = p.pushed
        toPush = p.toPush
        pulled = p.pulled
        remaining = p.remaining
    }

    init() {}
}

/// The sync status screen.
@MainActor
@Observable
public final class SyncModel: RecordsObserving {
    /// Where sync is.
    public enum Phase: Equatable {
        /// No relay is set (Settings).
        case notConfigured
        /// Not syncing.
        case idle
        /// Syncing.
        case syncing
        /// The last sync finished.
        case succeeded
        /// The last sync was cancelled; the next one resumes.
        case cancelled
        /// The last sync failed (message in `errorMessage`).
        case failed
    }

    /// Where sync is.
    public private(set) var phase: Phase = .idle
    /// The running (or last) sync's progress.
    public private(set) var progress = SyncProgressInfo()
    /// How many progress reports the last sync sent.
    public private(set) var progressUpdates = 0
    /// What the last finished sync did.
    public private(set) var lastReport: SyncReport?
    /// When the last sync finished.
    public private(set) var lastSynced: Date?
    /// Local changes not yet pushed.
    public private(set) var pendingChanges: UInt64 = 0
    /// The last error, as a sentence.
    public private(set) var errorMessage: String?

    @ObservationIgnored private let context: NotebookContext
    @ObservationIgnored private var listener: ProgressListener?

    init(context: NotebookContext) {
        self.context = context
        refresh()
    }

    /// The relay the settings name, or nil.
    var endpoint: RelayEndpoint? {
        let url = context.environment.settings.load().relayURL.flatMap { try? RelayAddress.validate($0).get() }
        return context.environment.relay(url)?.registering(with: context.environment.settings.load().registrationToken)
    }

    /// Re-reads the pending count and whether a relay is set.
    public func refresh() {
        pendingChanges = (try? context.vault().pendingChanges()) ?? pendingChanges
        guard !isSyncing else { return }
        if endpoint == nil { phase = .notConfigured } else if phase == .notConfigured { phase = .idle }
    }

    /// Whether a sync is running.
    public var isSyncing: Bool { phase == .syncing }

    /// Syncs once (returns when it ends). Does nothing while a sync runs or when no relay is set.
    public func sync() async {
        guard !isSyncing else { return }
        guard let endpoint, let vault = try? context.vault() else {
            phase = .notConfigured
            return
        }
        phase = .syncing
        errorMessage = nil
        progress = SyncProgressInfo()
        progressUpdates = 0
        let (updates, continuation) = AsyncStream<SyncProgress>.makeStream()
        let listener = ProgressListener(continuation)
        self.listener = listener
        let work = Task { () -> Result<SyncReport, Error> in
            defer { continuation.finish() }
            do { return .success(try await endpoint.sync(vault, listener: listener)) } catch { return .failure(error) }
        }
        for await p in updates {
            progress = SyncProgressInfo(p)
            progressUpdates += 1
        }
        self.listener = nil
        switch await work.value {
        case let .success(report):
            lastReport = report
            lastSynced = context.environment.time.now
            // The relay knows the notebook now: a registration token has done its work, so it
            // is not kept (it is spent, and it need not sit in the settings or their backups).
            if context.environment.settings.load().registrationToken != nil, !report.cancelled {
                var s = context.environment.settings.load()
                s.registrationToken = nil
                context.environment.settings.save(s)
            }
            phase = report.cancelled ? .cancelled : .succeeded
            if report.rejected > 0 {
                errorMessage = "\(report.rejected) change(s) from the relay were refused (tampered or from a revoked device)."
            }
            pendingChanges = (try? context.vault().pendingChanges()) ?? pendingChanges
            // Ids first: the sync may have changed records the screens show.
            context.publish(report.changed, origin: .sync)
        case let .failure(error):
            phase = .failed
            errorMessage = UserMessage.describe(error)
            pendingChanges = (try? context.vault().pendingChanges()) ?? pendingChanges
        }
    }

    /// Asks a running sync to stop at its next step (it resumes next time).
    public func cancel() { listener?.cancel() }

    /// Keeps the pending count current.
    public func recordsChanged(_ batch: ChangeBatch) {
        guard batch.origin != .sync else { return }
        pendingChanges = (try? context.vault().pendingChanges()) ?? pendingChanges
    }
}

/// Forwards Mend's progress calls (on the sync thread) into an AsyncStream the model reads on
/// the main actor; answers false once cancelled.
private final class ProgressListener: SyncListener, @unchecked Sendable {
    private let continuation: AsyncStream<SyncProgress>.Continuation
    private let lock = NSLock()
    private var cancelled = false

    init(_ continuation: AsyncStream<SyncProgress>.Continuation) { self.continuation = continuation }

    func cancel() { lock.withLock { cancelled = true } }

    func progress(progress: SyncProgress) -> Bool {
        continuation.yield(progress)
        return lock.withLock { !cancelled }
    }
}
