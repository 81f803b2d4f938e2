//! The crash game (seed 001): a channel runs terms back to back; each term's crash point is
//! committed before anyone bets (a bustabit-compatible hash chain, [`fair`]) and the multiplier
//! follows bustabit's curve ([`curve`]), computed without floats so every machine agrees.

pub mod curve;
pub mod fair;
