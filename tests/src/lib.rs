//! Mend's cross-crate scenarios live in this crate's integration tests (`tests/tests/`); see
//! `tests/README.md`. The library is empty.
