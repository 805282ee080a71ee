// NotebookKit: the Mend sample notebook's view models and platform seams, free of SwiftUI and
// Combine so they build and are tested on Linux. The app imports only this module; Mend's types
// (records, enums, `VaultError`) come with it.
@_exported import Mend
