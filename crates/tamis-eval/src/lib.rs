//! tamis's evaluations on public datasets (the data in `../shared/data`, passed in as a data
//! root): the personalized classifier (`tamis eval classify`) and rank fusion on Cranfield
//! (`tamis eval fusion`, `tamis eval lists`). Every function takes the encoder the caller
//! chose, so the same evaluation runs on the CPU or the GPU backend; tables are markdown,
//! written by [`table::Table`] into pages that say which command regenerates them.

pub mod classify;
pub mod cranfield;
pub mod fusion;
pub mod germeval;
pub mod harmful;
pub mod page;
pub mod perturb;
pub mod report;
pub mod store;
pub mod table;

use std::path::PathBuf;

use thiserror::Error;

/// Why an evaluation could not run.
#[derive(Debug, Error)]
pub enum EvalError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not the CSV the evaluation expects: {reason}")]
    Csv { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Data { path: PathBuf, reason: String },
    #[error("the evaluation needs a task for the `{0}` category and the data has none")]
    MissingTask(&'static str),
    #[error("the encoder failed: {0}")]
    Encoder(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error(transparent)]
    Policy(#[from] tamis_core::classify::PolicyError),
    #[error(transparent)]
    Fusion(#[from] tamis_core::fuse::FuseError),
}

/// An encoder the evaluations can use: any [`tamis_core::Encoder`] whose error can travel in an
/// [`EvalError`].
pub trait EvalEncoder:
    tamis_core::Encoder<Error: std::error::Error + Send + Sync + 'static>
{
}

impl<T> EvalEncoder for T
where
    T: tamis_core::Encoder,
    T::Error: Send + Sync + 'static,
{
}

impl EvalError {
    /// An encoder's (or a classification's) failure, whatever the backend's error type.
    pub fn encoder(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        EvalError::Encoder(Box::new(error))
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<tamis_core::classify::ClassifyError<E>>
    for EvalError
{
    fn from(error: tamis_core::classify::ClassifyError<E>) -> Self {
        EvalError::encoder(error)
    }
}
