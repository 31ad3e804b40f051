//! `tamis neighbours`: each text's nearest neighbours among the others.

use std::path::PathBuf;

use clap::Args;
use tamis_core::{nearest_neighbours, Encoder};

use super::{print_lines, Globals};
use crate::error::CliError;
use crate::input::{as_strs, read_texts_or_samples, InputFormat};

#[derive(Args)]
pub struct NeighboursArgs {
    /// Input file; the built-in sample posts when absent.
    #[arg(long)]
    input: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = InputFormat::Lines)]
    format: InputFormat,
    /// Neighbours shown per text.
    #[arg(short, default_value_t = 1)]
    k: usize,
}

pub fn run(globals: &Globals, args: NeighboursArgs) -> Result<(), CliError> {
    let texts = read_texts_or_samples(args.input.as_deref(), args.format)?;
    let encoder = globals.encoder(globals.bundle()?)?;
    let vectors: Vec<Vec<f32>> = encoder
        .embed(&as_strs(&texts))?
        .into_iter()
        .map(|e| e.vector)
        .collect();
    let mut lines = Vec::new();
    for (index, text) in texts.iter().enumerate() {
        lines.push(text.clone());
        for neighbour in nearest_neighbours(&vectors[index], &vectors, args.k, Some(index)) {
            lines.push(format!(
                "    {:.3}  {}",
                neighbour.similarity, texts[neighbour.index]
            ));
        }
    }
    print_lines(lines)
}
