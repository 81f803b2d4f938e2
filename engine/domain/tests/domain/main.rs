//! The domain through its public API, one test binary for the crate: scripted flows and
//! property tests over random histories.

mod blackjack;
mod crash;
mod flows;
mod instant;
mod properties;
