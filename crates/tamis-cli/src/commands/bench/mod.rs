//! `tamis bench`: speed measurements that print a table.

mod embed;
mod fuse;
mod gpu;
mod lengths;

use std::path::PathBuf;

use clap::Subcommand;

use super::{print_lines, print_text, Globals, ReportFormat};
use crate::data::DataRoot;
use crate::error::CliError;

/// The texts measured when no `--csv` is given, inside the `--data` folder.
const DEFAULT_CSV: &str = "harmful/sst2/validation.csv";

#[derive(Subcommand)]
pub enum BenchCommand {
    /// ms per text at batch 1 and 32, model load time and peak memory, on the CPU encoder.
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
    /// ms per token on texts of 16, 32, 64, 128 and 256 tokens cut from real posts, one per
    /// call and `--batch-size` per call, on the CPU encoder.
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
        let path = match &self.csv {
            Some(path) => path.clone(),
            None => self.data.dir_with(DEFAULT_CSV)?.join(DEFAULT_CSV),
        };
        embed::read_csv_texts(&path, count)
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
            let report = embed::bench_embed(&globals.model_dir(), &csv.read(texts)?, batch_size)?;
            match format {
                ReportFormat::Table => print_text(&report.to_string()),
                ReportFormat::Json => {
                    print_lines([serde_json::to_string(&report).map_err(CliError::Json)?])
                }
            }
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
            )?;
            match format {
                ReportFormat::Table => print_text(&report.to_string()),
                ReportFormat::Json => {
                    print_lines([serde_json::to_string(&report).map_err(CliError::Json)?])
                }
            }
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
