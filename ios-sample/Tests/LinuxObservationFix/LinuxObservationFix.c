// Debian trixie's swiftlang 6.0.3 ships libswiftObservation.so with an undefined reference to
// `swift::threading::fatal(char const*, ...)`, which none of its other libraries export, so any
// Linux executable using the Observation framework fails to link. This test-only target supplies
// that one function with upstream's behaviour (print the message, abort). It is compiled only on
// Linux, is linked only into the test runner, and is never part of the iOS app.
#if defined(__linux__)
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

// The Itanium-mangled name of swift::threading::fatal(const char *, ...).
__attribute__((noreturn, visibility("default")))
void _ZN5swift9threading5fatalEPKcz(const char *format, ...) {
    va_list args;
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    abort();
}
#endif
