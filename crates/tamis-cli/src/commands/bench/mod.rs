//! `tamis bench`: speed measurements that print a table.

mod embed;
mod fuse;
mod gpu;
mod lengths;
mod timeline;

use std::path::PathBuf;

use clap::Subcommand;

use tamis_core::classify::Policy;

use super::classify::SAMPLE_POLICY;
use super::{print_lines, print_text, Globals, ReportFormat};
use crate::data::DataRoot;
use crate::error::{CliError, IoAction};

/// The texts measured when no `--csv` is given, inside the `--data` folder.
const DEFAULT_CSV: &str = "harmful/sst2/validation.csv";

/// The home timeline `tamis bench timeline` classifies when no `--csv` is given.
const TIMELINE_CSV: &str = "harmful/mastodon/mastodon2025-en-shuffled-predicted.csv";

#[derive(Subcommand)]
pub enum BenchCommand {
    /// ms per text at batch 1 and 32, model load time and peak memory, on the CPU encoder;
    /// with `--threads` above one, also rows with each call split over that many threads.
    Embed {
        #[command(flatten)]
        csv: BenchTexts,
        /// How many texts from the start of the file.
        #[arg(long, default_value_t = 256)]
        texts: usize,
        /// Texts per call in the batched settings (the encoder groups each call's texts in
        /// runs of similar length).
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
    },
    /// ms per token on texts of 16, 32, 64, 128, 256 and 512 tokens (those within the model's
    /// window) cut from real posts, one per call and `--batch-size` per call, on the CPU
    /// encoder.
    Lengths {
        #[command(flatten)]
        csv: BenchTexts,
        /// Texts of each length, each cut from the CSV's texts from a different one on.
        #[arg(long, default_value_t = 64)]
        texts: usize,
        /// CSV texts the cut texts are made of.
        #[arg(long, default_value_t = 256)]
        sources: usize,
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
    },
    /// From the bundle's bytes to the verdicts on the first `--posts` posts of a timeline
    /// under a policy: cold (verify, load, fit the policy, classify) and warm (as many new
    /// posts with the model loaded and the policy fitted), on the CPU encoder.
    Timeline {
        /// CSV file with a `text` column; the data folder's Mastodon posts
        /// (harmful/mastodon/mastodon2025-en-shuffled-predicted.csv) when absent.
        #[arg(long)]
        csv: Option<PathBuf>,
        #[command(flatten)]
        data: DataRoot,
        /// The policy JSON; the sample policy (four categories: spam, toxic, negative,
        /// spoilers) when absent.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Posts classified cold; the warm run classifies the next as many.
        #[arg(long, default_value_t = 40)]
        posts: usize,
        /// Cold starts measured (in this process), reported as the median.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
    },
    /// The GPU encoder (wgpu) beside the CPU one at batch 1 and 32, and its memory over many
    /// calls.
    Gpu {
        #[command(flatten)]
        csv: BenchTexts,
        #[arg(long, default_value_t = 128)]
        texts: usize,
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        /// Embed calls over which GPU memory is sampled.
        #[arg(long, default_value_t = 10_000)]
        calls: usize,
    },
    /// ms per fusion for every classical fuser on synthetic lists.
    Fuse {
        #[arg(long, default_value_t = 10)]
        lists: usize,
        #[arg(long, default_value_t = 1000)]
        items: usize,
        #[arg(long, default_value_t = 100)]
        repeats: usize,
    },
}

/// The texts a benchmark embeds.
#[derive(clap::Args)]
pub struct BenchTexts {
    /// CSV file with a `text` column; the data folder's harmful/sst2/validation.csv when
    /// absent.
    #[arg(long)]
    csv: Option<PathBuf>,
    #[command(flatten)]
    data: DataRoot,
}

impl BenchTexts {
    /// The first `count` texts.
    fn read(&self, count: usize) -> Result<Vec<String>, CliError> {
        read_texts(self.csv.as_ref(), &self.data, DEFAULT_CSV, count)
    }
}

/// The first `count` texts of `csv`, or of `default` inside the data folder.
fn read_texts(
    csv: Option<&PathBuf>,
    data: &DataRoot,
    default: &str,
    count: usize,
) -> Result<Vec<String>, CliError> {
    let path = match csv {
        Some(path) => path.clone(),
        None => data.dir_with(default)?.join(default),
    };
    embed::read_csv_texts(&path, count)
}

/// "one thread" or "N threads", for a report's heading.
fn threads_in_words(threads: usize) -> String {
    match threads {
        1 => "one thread".to_string(),
        n => format!("{n} threads"),
    }
}

/// Prints a report as a table or as JSON.
fn print_report(
    report: &(impl std::fmt::Display + serde::Serialize),
    format: ReportFormat,
) -> Result<(), CliError> {
    match format {
        ReportFormat::Table => print_text(&report.to_string()),
        ReportFormat::Json => print_lines([serde_json::to_string(report).map_err(CliError::Json)?]),
    }
}

pub fn run(globals: &Globals, command: BenchCommand) -> Result<(), CliError> {
    match command {
        BenchCommand::Embed {
            csv,
            texts,
            batch_size,
            format,
        } => {
            let texts = csv.read(texts)?;
            let report =
                embed::bench_embed(&globals.model_dir(), &texts, batch_size, globals.threads)?;
            print_report(&report, format)
        }
        BenchCommand::Lengths {
            csv,
            texts,
            sources,
            batch_size,
            format,
        } => {
            let report = lengths::bench_lengths(
                &globals.model_dir(),
                &csv.read(sources)?,
                texts,
                batch_size,
                globals.threads,
            )?;
            print_report(&report, format)
        }
        BenchCommand::Timeline {
            csv,
            data,
            policy,
            posts,
            runs,
            format,
        } => {
            let policy = match policy {
                Some(path) => Policy::from_json(
                    &std::fs::read_to_string(&path)
                        .map_err(|e| CliError::io(IoAction::Read, &path, e))?,
                )?,
                None => Policy::from_json(SAMPLE_POLICY)?,
            };
            // The cold posts, then as many new ones for the warm run.
            let texts = read_texts(csv.as_ref(), &data, TIMELINE_CSV, 2 * posts)?;
            let bytes = timeline::BundleBytes::read(&globals.model_dir())?;
            let report = timeline::bench_timeline(&bytes, &policy, &texts, runs, globals.threads)?;
            print_report(&report, format)
        }
        BenchCommand::Gpu {
            csv,
            texts,
            batch_size,
            calls,
        } => print_text(&gpu::bench_gpu(
            &globals.model_dir(),
            &csv.read(texts)?,
            batch_size,
            calls,
        )?),
        BenchCommand::Fuse {
            lists,
            items,
            repeats,
        } => print_text(&fuse::bench_fuse(lists, items, repeats)?),
    }
}
