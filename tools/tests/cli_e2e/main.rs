//! The `croupier` binary end to end, one test binary for the package (one link instead of
//! seven): each module drives the CLI as an operator would.

mod baselines;
mod blackjack_game;
mod cli;
mod console;
mod crash;
mod crash_game;
mod data;
mod descriptors;
mod draws;
mod http;
mod project;
mod term_replay;
mod webdriver;
