//! One module per subcommand: its arguments and what it runs.

pub mod bench;
pub mod classify;
pub mod embed;
pub mod eval;
pub mod fuse;
pub mod neighbours;
pub mod prior;

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, ValueEnum};
use tamis_gpu::{AutoEncoder, BackendPreference};
use tamis_model::ModelBundle;

use crate::error::CliError;

/// The options every subcommand takes.
#[derive(Args)]
pub struct Globals {
    /// The model bundle folder (made by `python3 scripts/prepare-model.py`).
    #[arg(
        long,
        global = true,
        env = "TAMIS_MODEL_DIR",
        default_value = "models/minilm-l6-int8"
    )]
    pub model: PathBuf,
    /// Where every command that embeds runs: a hardware GPU when there is one (auto), the GPU
    /// even a software one, or the CPU. The backend that runs is printed on stderr. (The
    /// benchmarks measure the backends they name.)
    #[arg(
        long,
        global = true,
        default_value_t = BackendPreference::Auto,
        value_parser = backend_preferences()
    )]
    pub backend: BackendPreference,
}

/// `--backend`'s values: tamis-gpu's names, listed in `--help`.
fn backend_preferences() -> impl TypedValueParser<Value = BackendPreference> {
    PossibleValuesParser::new(BackendPreference::ALL.map(BackendPreference::name))
        .try_map(|name| name.parse::<BackendPreference>())
}

impl Globals {
    /// The bundle at `--model`.
    pub fn bundle(&self) -> Result<ModelBundle, CliError> {
        Ok(ModelBundle::read_dir(&self.model)?)
    }

    /// The encoder `--backend` selects, saying on stderr which backend runs and why. Every
    /// command that embeds makes its encoder here.
    pub fn encoder(&self, bundle: ModelBundle) -> Result<AutoEncoder, CliError> {
        let encoder = AutoEncoder::new(bundle, self.backend)?;
        let selection = encoder.selection();
        eprintln!("backend: {} ({})", selection.backend, selection.reason);
        Ok(encoder)
    }
}

/// How a command reports: a readable table, or JSON.
#[derive(Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
}

/// Writes `lines` to standard output, buffered, each followed by a newline.
pub fn print_lines(lines: impl IntoIterator<Item = String>) -> Result<(), CliError> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in lines {
        writeln!(out, "{line}").map_err(CliError::Stdout)?;
    }
    out.flush().map_err(CliError::Stdout)
}

/// Writes `text` to standard output as it is.
pub fn print_text(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(CliError::Stdout)
}
