//! Why a `tamis` command failed: one variant per kind of failure, each message saying what
//! happened and, where the user can act, what to do.

use std::path::PathBuf;

use tamis_core::classify::{ClassifyError, PolicyError, PriorsError};
use tamis_core::fuse::{FuseError, FusionRequestError, TrecError};
use tamis_gpu::GpuError;
use tamis_model::ModelError;
use thiserror::Error;

use crate::data::DATA_OPTION_HELP;

#[derive(Debug, Error)]
pub enum CliError {
    /// A file could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: IoAction,
        path: PathBuf,
        source: std::io::Error,
    },
    /// Standard input could not be read.
    #[error("cannot read standard input: {0}")]
    Stdin(std::io::Error),
    /// Standard output could not be written (a closed pipe, a full disk).
    #[error("cannot write to standard output: {0}")]
    Stdout(std::io::Error),
    /// A file or folder of the evaluation data is not where `--data` says.
    #[error("{} does not exist. {DATA_OPTION_HELP}", path.display())]
    MissingData { path: PathBuf },
    /// The evaluation compares the classifier with and without its priors: it needs some.
    #[error(
        "tamis has no built-in priors for model {0}: fit them first with \
         `tamis --model {0} prior fit`"
    )]
    NoPriors(String),
    #[error("input line {line} is not valid UTF-8 (first bad byte at column {column})")]
    NotUtf8 { line: usize, column: usize },
    #[error("input line {line} is not a JSON string or an object with a `text` field: {reason}")]
    InvalidJsonLine { line: usize, reason: String },
    #[error("{} is not a CSV file with a `text` column: {reason}", path.display())]
    InvalidCsv { path: PathBuf, reason: String },
    /// A run file with a bad line; `source` names the line.
    #[error("{} {source}", path.display())]
    InvalidTrecRun { path: PathBuf, source: TrecError },
    #[error("cannot write the result as JSON: {0}")]
    Json(serde_json::Error),
    #[error("standard input is not JSON: {0}")]
    StdinNotJson(serde_json::Error),
    #[error("standard input is neither ranked lists nor a fusion request: {0}")]
    NotAFusionRequest(serde_json::Error),
    /// The runs of one query cannot be fused.
    #[error("query {query}: {source}")]
    FuseQuery { query: String, source: FuseError },
    #[error(transparent)]
    Fuse(#[from] FuseError),
    /// A fusion that cannot be served: an unknown method or normalization, bad lists, or
    /// texts that could not be embedded.
    #[error(transparent)]
    FusionRequest(#[from] FusionRequestError<GpuError>),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Gpu(#[from] GpuError),
    #[error(transparent)]
    Classify(#[from] ClassifyError<ModelError>),
    #[error(transparent)]
    ClassifyOnBackend(#[from] ClassifyError<GpuError>),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Priors(#[from] PriorsError),
    #[error(transparent)]
    Eval(#[from] tamis_eval::EvalError),
}

/// What was being done to a file when it failed.
#[derive(Debug, Clone, Copy)]
pub enum IoAction {
    Read,
    Write,
    CreateFolder,
}

impl std::fmt::Display for IoAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IoAction::Read => "read",
            IoAction::Write => "write",
            IoAction::CreateFolder => "create the folder",
        })
    }
}

impl CliError {
    /// `action` on the file at `path` failed with `source`.
    pub fn io(action: IoAction, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CliError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
