//! The HTTP and WebSocket API on loopback, one test binary for the gateway (one link of
//! axum and hyper instead of seven): a server per test on 127.0.0.1:0 over a temporary data
//! folder (`common`), driven as operators, players and hostile clients would.

mod common;

mod activity;
mod auth_and_input;
mod console;
mod crash;
mod faults;
mod hostile_auth;
mod hostile_clients;
mod instant;
mod red_packets;
mod resume;
mod round;
mod ws_play;
