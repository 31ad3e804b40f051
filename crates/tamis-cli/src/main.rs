//! `tamis`: the native command line of tamis. Each subcommand lives in its own module under
//! `commands/`; this file parses the command line and dispatches.

mod commands;
mod data;
mod error;
mod input;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use commands::{bench, classify, embed, eval, fuse, neighbours, prior, Globals};

#[derive(Parser)]
#[command(
    name = "tamis",
    version,
    about = "On-device content filtering and ranking"
)]
struct Cli {
    #[command(flatten)]
    globals: Globals,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Embed texts and write one JSON line per text: {"line", "tokens", "truncated", "vector"}.
    Embed(embed::EmbedArgs),
    /// Show each text's nearest neighbours among the others (built-in sample posts by default).
    Neighbours(neighbours::NeighboursArgs),
    /// Classify texts under a policy (built-in sample policy and posts by default): one
    /// verdict per text, with scores, action and reason.
    Classify(classify::ClassifyArgs),
    /// Fuse TREC run files into one, written to standard output in TREC format.
    Fuse(fuse::FuseArgs),
    /// Evaluations on the evaluation data (`--data`, not shipped with tamis).
    Eval {
        #[command(subcommand)]
        what: eval::EvalCommand,
    },
    /// Built-in priors of the standard categories.
    Prior {
        #[command(subcommand)]
        what: prior::PriorCommand,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: bench::BenchCommand,
    },
}

fn main() -> ExitCode {
    let Cli { globals, command } = Cli::parse();
    let result = match command {
        Command::Embed(args) => embed::run(&globals, args),
        Command::Neighbours(args) => neighbours::run(&globals, args),
        Command::Classify(args) => classify::run(&globals, args),
        Command::Fuse(args) => fuse::run(&globals, args),
        Command::Eval { what } => eval::run(&globals, what),
        Command::Prior { what } => prior::run(&globals, what),
        Command::Bench { what } => bench::run(&globals, what),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
