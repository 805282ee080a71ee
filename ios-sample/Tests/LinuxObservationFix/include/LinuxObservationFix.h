// See LinuxObservationFix.c. Nothing to import; the target only contributes one symbol.
