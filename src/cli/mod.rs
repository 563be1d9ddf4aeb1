//! The command line: `serve`, `log verify`, `token create|list|delete`, `bench ingest|sink|e2e`.

pub mod bench;
pub mod log;
pub mod token;

use clap::{Parser, Subcommand};

use crate::config::Overrides;

/// Railyard: a CloudEvents event bus with durable embedded storage.
#[derive(Debug, Parser)]
#[command(name = "railyard", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (embedded storage; settings from --config, RAILYARD_* and flags)
    Serve(Box<Overrides>),
    /// Inspect the event log on disk
    Log {
        #[command(subcommand)]
        command: log::LogCommand,
    },
    /// API tokens: create (printed once), list, delete
    Token {
        #[command(subcommand)]
        command: token::TokenCommand,
    },
    /// Load tools: drive ingest and print throughput and latency, or run a baseline sink
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
}
