// Where a vault syncs: a real mend-relay over HTTP (carried by URLSession through the bindings'
// HttpSender), a relay protocol the app implements itself (the bindings' SyncTransport), or, in
// tests and demos, the bindings' in-process relay. One enum so the sync, invite and join code
// paths are the same for all three.
import Foundation
import Mend

/// A relay a vault can sync through and join with.
public enum RelayEndpoint: @unchecked Sendable {
    /// The bindings' in-process relay (tests, demos).
    case inMemory(InMemoryRelay)
    /// A `mend-relay` at a base URL; `sender` carries the requests (nil: Mend's built-in client).
    /// A clinic's relay registers a new vault only with a `registrationToken` its operator
    /// issued (one per practice): the first sync registers with it, later ones send nothing
    /// more for it. Without one, such a relay answers `VaultError.relayRefused(.registrationRequired)`.
    /// A relay in open registration, and a device that joined with an invite, need none.
    case http(URL, sender: HttpSender?, registrationToken: String? = nil)
    /// A whole relay protocol implemented by the app.
    case custom(SyncTransport)

    /// Runs one sync of `vault`, reporting to `listener`. Suspends without blocking the caller
    /// (Mend runs it on its own thread); cancelling the calling task stops it at a safe point.
    public func sync(_ vault: Vault, listener: SyncListener?) async throws -> SyncReport {
        try await mend {
            switch self {
            case let .inMemory(relay): return try await vault.sync(relay: relay, listener: listener)
            case let .http(url, sender, token):
                // Registers once; after it succeeded the vault remembers and this sends nothing.
                if let token = token?.trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty {
                    try await vault.registerHttp(url: url.absoluteString, registrationToken: token, sender: sender)
                }
                return try await vault.sync(http: url.absoluteString, sender: sender, listener: listener)
            case let .custom(transport): return try await vault.sync(transport: transport, listener: listener)
            }
        }
    }

    /// This endpoint registering a new vault with `token` (an HTTP relay's only; nil keeps it).
    public func registering(with token: String?) -> RelayEndpoint {
        guard let token, case let .http(url, sender, nil) = self else { return self }
        return .http(url, sender: sender, registrationToken: token)
    }

    /// Joins the vault an invite belongs to, creating the file at `path` under `key`. Suspends.
    public func join(path: String, key: Data, invite: Data, code: String) async throws -> Vault {
        try await mend {
            switch self {
            case let .inMemory(relay):
                try await Vault.joinInMemory(path: path, key: key, invite: invite, code: code, relay: relay)
            case let .http(url, sender, _):
                try await Vault.joinHttp(path: path, key: key, invite: invite, code: code, url: url.absoluteString, sender: sender)
            case let .custom(transport):
                try await Vault.joinWith(path: path, key: key, invite: invite, code: code, transport: transport)
            }
        }
    }
}

/// Why a relay address was refused. Messages name the rule, never echo the input.
public enum RelayAddressError: Error, Equatable, CustomStringConvertible {
    /// Empty input.
    case empty
    /// Not a URL.
    case notAURL
    /// A scheme other than https (http only for this machine).
    case insecureScheme
    /// No host.
    case missingHost
    /// User name or password in the URL.
    case credentialsInURL
    /// A query or fragment, which the relay's paths never take.
    case queryOrFragment

    /// What to fix.
    public var description: String {
        switch self {
        case .empty: "Enter the relay's address."
        case .notAURL: "That is not a web address."
        case .insecureScheme: "Use an https:// address (http:// only for localhost)."
        case .missingHost: "The address has no host name."
        case .credentialsInURL: "Leave user names and passwords out of the address."
        case .queryOrFragment: "Remove the ?… or #… part of the address."
        }
    }
}

/// Checks and normalizes a relay base URL.
public enum RelayAddress {
    /// The normalized URL (lowercased scheme and host, no trailing slash), or why it was refused.
    public static func validate(_ text: String) -> Result<URL, RelayAddressError> {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return .failure(.empty) }
        guard let parts = URLComponents(string: trimmed), let scheme = parts.scheme?.lowercased() else {
            return .failure(.notAURL)
        }
        guard let host = parts.host?.lowercased(), !host.isEmpty else {
            return .failure(scheme == "https" || scheme == "http" ? .missingHost : .notAURL)
        }
        let loopback = host == "localhost" || host == "127.0.0.1" || host == "::1" || host == "[::1]"
        guard scheme == "https" || (scheme == "http" && loopback) else { return .failure(.insecureScheme) }
        guard parts.user == nil, parts.password == nil else { return .failure(.credentialsInURL) }
        guard parts.query == nil, parts.fragment == nil else { return .failure(.queryOrFragment) }
        var normal = URLComponents()
        normal.scheme = scheme
        normal.host = parts.host.map { $0.lowercased() }
        normal.port = parts.port
        var path = parts.path
        while path.hasSuffix("/") { path.removeLast() }
        normal.path = path
        guard let url = normal.url else { return .failure(.notAURL) }
        return .success(url)
    }
}
