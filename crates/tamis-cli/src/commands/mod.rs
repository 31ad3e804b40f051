//! One module per subcommand: its arguments and what it runs.

pub mod bench;
pub mod classify;
pub mod embed;
pub mod eval;
pub mod fuse;
pub mod neighbours;
pub mod prior;

use std::io::{BufWriter, Write};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, ValueEnum};
use tamis_core::classify::Priors;
use tamis_gpu::{AutoEncoder, BackendKind, BackendPreference};
use tamis_model::ModelBundle;

use crate::error::CliError;

/// The options every subcommand takes.
#[derive(Args)]
pub struct Globals {
    /// The model: a bundle folder, or the name of one under `models/` (`minilm-l6-int8`,
    /// `e5-small-q4`; `python3 scripts/prepare-model.py --model NAME` prepares it).
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
    /// Threads each embedding call on the CPU is split over (same embeddings, bit for bit);
    /// the GPU does not use it.
    #[arg(long, global = true, default_value_t = NonZeroUsize::MIN)]
    pub threads: NonZeroUsize,
}

/// `--backend`'s values: tamis-gpu's names, listed in `--help`.
fn backend_preferences() -> impl TypedValueParser<Value = BackendPreference> {
    PossibleValuesParser::new(BackendPreference::ALL.map(BackendPreference::name))
        .try_map(|name| name.parse::<BackendPreference>())
}

impl Globals {
    /// The folder `--model` names: the folder itself, or `models/NAME` for a bare name that
    /// is no folder here.
    pub fn model_dir(&self) -> PathBuf {
        let is_bare_name = self.model.components().count() == 1;
        if is_bare_name && !self.model.is_dir() {
            Path::new("models").join(&self.model)
        } else {
            self.model.clone()
        }
    }

    /// The bundle at `--model`.
    pub fn bundle(&self) -> Result<ModelBundle, CliError> {
        Ok(ModelBundle::read_dir(self.model_dir())?)
    }

    /// The encoder `--backend` selects, on the CPU with `--threads` threads, saying on stderr
    /// which backend runs, on how many threads when it is the CPU, and why (`backend: cpu, 2
    /// threads (asked for the CPU)`). Every command that embeds makes its encoder here.
    pub fn encoder(&self, bundle: ModelBundle) -> Result<AutoEncoder, CliError> {
        let mut encoder = AutoEncoder::new(bundle, self.backend)?;
        encoder.set_cpu_threads(self.threads);
        let selection = encoder.selection();
        let threads = match (selection.backend, self.threads.get()) {
            (BackendKind::Gpu, _) => String::new(),
            (BackendKind::Cpu, 1) => ", 1 thread".to_string(),
            (BackendKind::Cpu, threads) => format!(", {threads} threads"),
        };
        eprintln!(
            "backend: {}{threads} ({})",
            selection.backend, selection.reason
        );
        Ok(encoder)
    }
}

/// The built-in priors of `bundle`'s model; when tamis has none for it, says so on stderr and
/// classifies without them.
pub fn built_in_priors(bundle: &ModelBundle) -> Result<Option<Arc<Priors>>, CliError> {
    let priors = tamis_model::built_in_priors(bundle)?;
    if priors.is_none() {
        eprintln!(
            "priors: none built in for {}: every category is scored from the policy's own \
             examples and definitions",
            bundle.manifest.id
        );
    }
    Ok(priors.map(Arc::new))
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
