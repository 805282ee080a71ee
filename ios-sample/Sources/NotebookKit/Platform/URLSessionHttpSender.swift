// The bindings' HttpSender over URLSession: Mend builds and signs each relay request, this only
// carries the bytes, so the app's networking (proxies, ATS, background sessions) applies and no
// key ever reaches Swift. `send` is called on Mend's sync thread and blocks it until the reply.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Mend

/// Carries Mend's relay requests over a `URLSession`.
public final class URLSessionHttpSender: HttpSender, @unchecked Sendable {
    private let session: URLSession
    private let timeout: TimeInterval

    /// A sender over `session` with a per-request timeout.
    public init(session: URLSession = .shared, timeout: TimeInterval = 30) {
        self.session = session
        self.timeout = timeout
    }

    /// Sends one request and waits for the status and body. Network failures become
    /// `MendError.Transport` (retry later); HTTP error statuses are returned for Mend to judge.
    public func send(method: String, url: String, headers: [HttpHeader], body: Data) throws -> HttpResponse {
        guard let target = URL(string: url) else { throw MendError.Transport(reason: "bad request URL") }
        var request = URLRequest(url: target, timeoutInterval: timeout)
        request.httpMethod = method
        for h in headers { request.setValue(h.value, forHTTPHeaderField: h.name) }
        if !body.isEmpty { request.httpBody = body }

        let done = DispatchSemaphore(value: 0)
        let box = ResultBox()
        let task = session.dataTask(with: request) { data, response, error in
            if let error {
                box.result = .failure(MendError.Transport(reason: "network: \((error as NSError).code)"))
            } else if let http = response as? HTTPURLResponse {
                box.result = .success(HttpResponse(status: UInt16(clamping: http.statusCode), body: data ?? Data()))
            } else {
                box.result = .failure(MendError.Transport(reason: "not an HTTP response"))
            }
            done.signal()
        }
        task.resume()
        done.wait()
        return try box.result?.get() ?? { throw MendError.Transport(reason: "no response") }()
    }
}

private final class ResultBox: @unchecked Sendable {
    var result: Result<HttpResponse, Error>?
}
