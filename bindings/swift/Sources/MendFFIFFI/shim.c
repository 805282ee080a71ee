// SwiftPM needs one source file in a C target; the functions live in libmend_ffi.
