//! `tamis embed`: one JSON line per text with its vector.

use std::path::PathBuf;

use clap::Args;
use tamis_core::Encoder;

use super::{print_lines, Globals};
use crate::error::CliError;
use crate::input::{as_strs, read_texts, InputFormat};

#[derive(Args)]
pub struct EmbedArgs {
    /// Input file; standard input when absent.
    #[arg(long)]
    input: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = InputFormat::Lines)]
    format: InputFormat,
}

pub fn run(globals: &Globals, args: EmbedArgs) -> Result<(), CliError> {
    let texts = read_texts(args.input.as_deref(), args.format)?;
    let encoder = globals.encoder(globals.bundle()?)?;
    let embeddings = encoder.embed(&as_strs(&texts))?;
    print_lines(embeddings.iter().enumerate().map(|(index, embedding)| {
        serde_json::json!({
            "line": index + 1,
            "tokens": embedding.tokens,
            "truncated": embedding.truncated,
            "vector": embedding.vector,
        })
        .to_string()
    }))
}
