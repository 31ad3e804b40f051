//! `tamis bench lengths`: ms per token as texts grow, on texts cut from real posts.
//!
//! A model's products cost the same per token at any length, its attention grows with the
//! length: this table shows whether a long post costs more per token than a short phrase.
//! Each length gets its own texts, all of that many tokens (no padding), cut from the CSV's
//! texts read one after another, each text starting at a different one.

use std::path::Path;

use serde::Serialize;
use tamis_core::Encoder;
use tamis_model::{ModelBundle, TextTokenizer, TractEncoder};

use super::embed::ms_per_text;
use crate::error::CliError;

/// The lengths measured, in tokens (the special ones included).
pub const LENGTHS: [usize; 5] = [16, 32, 64, 128, 256];

/// One length at one batch size.
#[derive(Debug, Serialize)]
pub struct LengthRow {
    /// The tokens the texts were cut to.
    pub tokens: usize,
    /// Their tokens on average, as the encoder counts them (at most `tokens`, below it where a
    /// source ran out or the tokenizer would not split a word there).
    pub mean_tokens: f64,
    pub batch: usize,
    pub ms_per_text: f64,
    pub ms_per_token: f64,
}

/// What `tamis bench lengths` measures, and the texts it cut (so that another engine can be
/// measured on the same ones).
#[derive(Debug, Serialize)]
pub struct LengthsReport {
    pub rows: Vec<LengthRow>,
    /// For each length of [`LENGTHS`], its texts.
    pub texts: Vec<Vec<String>>,
}

/// Cuts `count` texts of each length of [`LENGTHS`] from `sources` and measures the default
/// encoder on them, one text per call and `per_call` per call.
pub fn bench_lengths(
    model_dir: &Path,
    sources: &[String],
    count: usize,
    per_call: usize,
) -> Result<LengthsReport, CliError> {
    let bundle = ModelBundle::read_dir(model_dir)?;
    let tokenizer = TextTokenizer::from_bundle(&bundle)?;
    let encoder = TractEncoder::new(&bundle)?;
    let mut report = LengthsReport {
        rows: Vec::new(),
        texts: Vec::new(),
    };
    for tokens in LENGTHS {
        let texts = (0..count)
            .map(|first| cut_text(&tokenizer, sources, first, tokens))
            .collect::<Result<Vec<_>, _>>()?;
        let borrowed: Vec<&str> = texts.iter().map(String::as_str).collect();
        let counted = tokenizer.tokenize(&borrowed)?;
        let mean_tokens =
            counted.iter().map(|t| t.ids.len()).sum::<usize>() as f64 / count.max(1) as f64;
        for batch in [1, per_call] {
            let ms_per_text = ms_per_text(&borrowed, |texts| {
                texts.chunks(batch.max(1)).try_for_each(|chunk| {
                    encoder.embed(chunk)?;
                    Ok(())
                })
            })?;
            report.rows.push(LengthRow {
                tokens,
                mean_tokens,
                batch,
                ms_per_text,
                ms_per_token: ms_per_text / mean_tokens,
            });
        }
        report.texts.push(texts);
    }
    Ok(report)
}

/// The texts of `sources` from `first` on (wrapping around), joined by spaces, cut to the
/// longest run of whole words of at most `tokens` tokens, then characters added back from the
/// next word while the count stays within `tokens`.
fn cut_text(
    tokenizer: &TextTokenizer,
    sources: &[String],
    first: usize,
    tokens: usize,
) -> Result<String, CliError> {
    // A text the tokenizer truncates is too long, whatever its count after the cut.
    let too_long = |text: &str| -> Result<bool, CliError> {
        let tokenized = tokenizer.tokenize(&[text])?.remove(0);
        Ok(tokenized.truncated || tokenized.ids.len() > tokens)
    };
    let words =
        (0..sources.len()).flat_map(|k| sources[(first + k) % sources.len()].split_whitespace());
    let mut text = String::new();
    for word in words {
        let longer = if text.is_empty() {
            word.to_string()
        } else {
            format!("{text} {word}")
        };
        if too_long(&longer)? {
            let kept = text.len();
            let next_word = longer.char_indices().filter(|&(at, _)| at > kept);
            for (end, _) in next_word {
                if too_long(&longer[..end])? {
                    break;
                }
                text = longer[..end].to_string();
            }
            break;
        }
        text = longer;
    }
    Ok(text)
}

impl std::fmt::Display for LengthsReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "tamis bench lengths: tract, one thread")?;
        writeln!(f, "| tokens | batch | ms per text | ms per token |")?;
        writeln!(f, "|---:|---:|---:|---:|")?;
        for row in &self.rows {
            writeln!(
                f,
                "| {:.1} | {} | {:.2} | {:.4} |",
                row.mean_tokens, row.batch, row.ms_per_text, row.ms_per_token
            )?;
        }
        Ok(())
    }
}
