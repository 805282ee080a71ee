// The sample carries its relay requests over URLSession with Mend's own `URLSessionSender`
// (bindings/swift/Sources/Mend/URLSessionSender.swift): the app's networking (proxies, ATS,
// background sessions) applies, and no key ever reaches Swift.
import Mend

/// The sample's HTTP stack for Mend's relay requests.
public typealias URLSessionHttpSender = URLSessionSender
