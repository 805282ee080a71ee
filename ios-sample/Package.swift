// swift-tools-version:6.0
// The Mend sample notebook's testable half: NotebookKit holds the view models and the small
// platform protocols (key store, biometric gate, time source, settings store) with no SwiftUI
// and no Combine, so it builds and its XCTest suite runs on Linux against the real bindings.
// The SwiftUI screens in App/ are not part of this package: they are an iOS app target described
// by project.yml (XcodeGen) that depends on NotebookKit. See README.md.
import PackageDescription

let package = Package(
    name: "MendNotebook",
    platforms: [.iOS(.v17), .macOS(.v14)],
    products: [.library(name: "NotebookKit", targets: ["NotebookKit"])],
    dependencies: [.package(name: "Mend", path: "../bindings/swift")],
    targets: [
        .target(
            name: "NotebookKit",
            dependencies: [.product(name: "Mend", package: "Mend")],
            path: "Sources/NotebookKit"
        ),
        // Linux only: supplies a symbol Debian's libswiftObservation.so needs but no library
        // exports (see the file). Empty on Apple platforms; never linked into the app.
        .target(name: "LinuxObservationFix", path: "Tests/LinuxObservationFix"),
        .testTarget(
            name: "NotebookKitTests",
            dependencies: ["NotebookKit", "LinuxObservationFix"],
            path: "Tests/NotebookKitTests"
        ),
    ]
)
