//! The command line: `serve`, `log verify`, `token create|list|delete`, `bench ingest|sink|e2e`.

pub mod bench;
pub mod client;
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
    /// Buses through the API: list, get, put -f, delete
    Buses {
        #[command(flatten)]
        conn: client::Conn,
        #[command(subcommand)]
        command: client::BusesCommand,
    },
    /// Rules through the API: list, get, put -f, delete (--bus)
    Rules {
        #[command(flatten)]
        conn: client::Conn,
        #[command(subcommand)]
        command: client::RulesCommand,
    },
    /// Connections through the API: list, get, put -f, delete
    Connections {
        #[command(flatten)]
        conn: client::Conn,
        #[command(subcommand)]
        command: client::ConnectionsCommand,
    },
    /// Webhook sources through the API: list, get, put -f [--secret-env VAR], delete
    Sources {
        #[command(flatten)]
        conn: client::Conn,
        #[command(subcommand)]
        command: client::CrudCommand,
    },
    /// Schedules through the API: list, get, put -f, delete
    Schedules {
        #[command(flatten)]
        conn: client::Conn,
        #[command(subcommand)]
        command: client::CrudCommand,
    },
    /// Internal queues through the API: list, get, put -f, delete
    Queues {
        #[command(flatten)]
        conn: client::Conn,
        #[command(subcommand)]
        command: client::CrudCommand,
    },
    /// Events through the API: put -f, get, tail, trace
    Events {
        #[command(flatten)]
        conn: client::Conn,
        #[command(subcommand)]
        command: client::EventsCommand,
    },
    /// A target's dead letters: list, get, redrive, delete
    DeadLetters {
        #[command(flatten)]
        conn: client::Conn,
        #[command(flatten)]
        command: client::DeadLettersCommand,
    },
    /// Make the server's buses, connections and rules what a file declares (--dry-run, --prune)
    Apply {
        #[command(flatten)]
        conn: client::Conn,
        #[command(flatten)]
        args: client::ApplyArgs,
    },
    /// Try a filter and transform on an event (POST /v1/test-rule)
    TestRule {
        #[command(flatten)]
        conn: client::Conn,
        #[command(flatten)]
        args: client::TestRuleArgs,
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
