// Time as a dependency, so the inactivity lock and the timestamps the models write can be tested
// with a clock the test moves by hand instead of by sleeping.
import Foundation

/// Where the models read the current time from.
public protocol TimeSource: AnyObject, Sendable {
    /// The current time.
    var now: Date { get }
}

extension TimeSource {
    /// The current time in milliseconds since the Unix epoch, the unit Mend's records use.
    public var nowMillis: Int64 { now.mendMillis }
}

/// The device clock.
public final class SystemTimeSource: TimeSource {
    /// A clock that reads `Date()`.
    public init() {}
    /// The current wall-clock time.
    public var now: Date { Date() }
}

/// A clock that only moves when told to: for tests and SwiftUI previews.
public final class ManualTimeSource: TimeSource, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    /// A clock stopped at `start`.
    public init(_ start: Date = Date(timeIntervalSince1970: 1_767_225_600)) { current = start }

    /// The time the clock shows.
    public var now: Date { lock.withLock { current } }

    /// Moves the clock forward.
    public func advance(by seconds: TimeInterval) { lock.withLock { current += seconds } }
}

extension Date {
    /// Milliseconds since the Unix epoch (Mend's time unit).
    public var mendMillis: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }

    /// The date of a Mend timestamp (milliseconds since the Unix epoch).
    public init(mendMillis: Int64) { self.init(timeIntervalSince1970: Double(mendMillis) / 1000) }
}
