//! Where the evaluation data comes from: one option, `--data DIR` (or `TAMIS_DATA`), for
//! every command that reads it (`eval`, `prior fit`, `bench embed`, `bench gpu`).

use std::path::{Path, PathBuf};

use clap::Args;

use crate::error::CliError;

/// Said with every missing-data error: the option, and where the data comes from.
pub const DATA_OPTION_HELP: &str =
    "--data DIR (or TAMIS_DATA) names the evaluation data folder, with harmful/ (spam, \
     textdetox, sst2, mastodon) and ir/cranfield/. The data is not shipped with tamis: in the \
     project's CI it is the shared data folder beside the repository, ../shared/data.";

/// The evaluation data folder.
#[derive(Args)]
pub struct DataRoot {
    /// The evaluation data folder, with harmful/ and ir/cranfield/. Not shipped with tamis: in
    /// the project's CI it is the shared data folder beside the repository.
    #[arg(
        long = "data",
        value_name = "DIR",
        env = "TAMIS_DATA",
        default_value = "../shared/data"
    )]
    dir: PathBuf,
}

impl DataRoot {
    /// The data folder, once it and `relative` (a folder or file inside it) are there.
    pub fn dir_with(&self, relative: &str) -> Result<&Path, CliError> {
        for path in [self.dir.clone(), self.dir.join(relative)] {
            if !path.exists() {
                return Err(CliError::MissingData { path });
            }
        }
        Ok(&self.dir)
    }
}
