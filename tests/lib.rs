//! The workspace's cross-crate end-to-end tests live in `e2e/` (run by `cargo test
//! --workspace`, or `cargo test -p croupier-tests`). Tests that need one crate sit beside it;
//! tests that need the HTTP server or the `croupier` binary sit in `gateway/tests` and
//! `tools/tests`, where Cargo builds what they drive. This library is empty on purpose.
