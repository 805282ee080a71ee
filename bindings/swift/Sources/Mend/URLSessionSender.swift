// An HttpSender over URLSession, ready to use: Mend builds and signs each relay request, this
// only carries the bytes, so the app's networking (proxies, ATS, background sessions) applies
// and no key ever reaches Swift. `send` is async: Mend awaits it on its own sync thread.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Carries Mend's relay requests over a `URLSession`.
public final class URLSessionSender: HttpSender, @unchecked Sendable {
    private let session: URLSession
    private let timeout: TimeInterval

    /// A sender with a per-request timeout, over a session of its own that refuses redirects
    /// (a signed request and a registration token belong to the relay they were made for; a
    /// 3xx answer is returned to Mend, which refuses it). Pass `session` to use the app's
    /// (configure it to refuse redirects too).
    public init(session: URLSession? = nil, timeout: TimeInterval = 30) {
        self.session = session ?? URLSession(configuration: .ephemeral, delegate: NoRedirects(), delegateQueue: nil)
        self.timeout = timeout
    }

    /// Sends one request and suspends until the status and body arrive. Network failures become
    /// `MendError.Transport` (retry later); HTTP error statuses are returned for Mend to judge.
    /// When Mend drops the call (the sync's task was cancelled) the URLSession task is cancelled.
    public func send(method: String, url: String, headers: [HttpHeader], body: Data) async throws -> HttpResponse {
        guard let target = URL(string: url) else { throw MendError.Transport(reason: "bad request URL") }
        var request = URLRequest(url: target, timeoutInterval: timeout)
        request.httpMethod = method
        for h in headers { request.setValue(h.value, forHTTPHeaderField: h.name) }
        if !body.isEmpty { request.httpBody = body }

        let box = TaskBox()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (done: CheckedContinuation<HttpResponse, Error>) in
                let task = session.dataTask(with: request) { data, response, error in
                    if let error {
                        done.resume(throwing: MendError.Transport(reason: "network: \((error as NSError).code)"))
                    } else if let http = response as? HTTPURLResponse {
                        done.resume(returning: HttpResponse(status: UInt16(clamping: http.statusCode), body: data ?? Data()))
                    } else {
                        done.resume(throwing: MendError.Transport(reason: "not an HTTP response"))
                    }
                }
                box.set(task)
                task.resume()
            }
        } onCancel: {
            box.cancel()
        }
    }
}

/// The URLSession task of one request, cancellable from another thread (also before it exists).
private final class TaskBox: @unchecked Sendable {
    private let lock = NSLock()
    private var task: URLSessionDataTask?
    private var cancelled = false

    func set(_ t: URLSessionDataTask) {
        let cancelNow = lock.withLock { task = t; return cancelled }
        if cancelNow { t.cancel() }
    }

    func cancel() {
        let t = lock.withLock { cancelled = true; return task }
        t?.cancel()
    }
}

/// Answers every redirect with "do not follow": the 3xx response itself completes the task.
private final class NoRedirects: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(nil)
    }
}
