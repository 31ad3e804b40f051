//! `tamis bench lengths`: ms per token as texts grow, on texts cut from real posts, for any
//! bundle (its CPU encoder: tract for BERT, tamis's forward pass for e5).
//!
//! A model's products cost the same per token at any length, its attention grows with the
//! length: this table shows whether a long post costs more per token than a short phrase.
//! Each length gets its own texts, all of that many tokens (no padding), cut from the CSV's
//! texts read one after another, each text starting at a different one.

use std::num::NonZeroUsize;
use std::path::Path;

use serde::Serialize;
use tamis_core::Encoder;
use tamis_model::{Architecture, CpuEncoder, ModelBundle};

use super::embed::{ms_per_text, TokenCounter};
use crate::error::CliError;

/// The lengths measured, in tokens (the special ones and e5's query prefix included), up to
/// the model's window.
pub const LENGTHS: [usize; 6] = [16, 32, 64, 128, 256, 512];

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
    pub model_id: String,
    pub architecture: Architecture,
    pub threads: usize,
    pub rows: Vec<LengthRow>,
    /// For each length of [`LENGTHS`] measured (those within the model's window), its texts.
    pub texts: Vec<Vec<String>>,
}

/// Cuts `count` texts of each length of [`LENGTHS`] within the model's window from `sources`
/// and measures the bundle's CPU encoder on them, one text per call and `per_call` per call,
/// each call on `threads` threads.
pub fn bench_lengths(
    model_dir: &Path,
    sources: &[String],
    count: usize,
    per_call: usize,
    threads: NonZeroUsize,
) -> Result<LengthsReport, CliError> {
    let bundle = ModelBundle::read_dir(model_dir)?;
    let counter = TokenCounter::new(&bundle)?;
    let mut encoder = CpuEncoder::new(&bundle)?;
    encoder.set_threads(threads);
    let mut report = LengthsReport {
        model_id: bundle.manifest.id.clone(),
        architecture: bundle.manifest.architecture,
        threads: threads.get(),
        rows: Vec::new(),
        texts: Vec::new(),
    };
    let window = bundle.manifest.max_tokens;
    for tokens in LENGTHS.into_iter().filter(|&tokens| tokens <= window) {
        let texts = (0..count)
            .map(|first| cut_text(&counter, sources, first, tokens))
            .collect::<Result<Vec<_>, _>>()?;
        let borrowed: Vec<&str> = texts.iter().map(String::as_str).collect();
        let counted = (borrowed.iter())
            .map(|text| Ok(counter.count(text)?.tokens))
            .collect::<Result<Vec<usize>, CliError>>()?;
        let mean_tokens = counted.iter().sum::<usize>() as f64 / count.max(1) as f64;
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
    counter: &TokenCounter,
    sources: &[String],
    first: usize,
    tokens: usize,
) -> Result<String, CliError> {
    // A text the tokenizer truncates is too long, whatever its count after the cut.
    let too_long = |text: &str| -> Result<bool, CliError> {
        let count = counter.count(text)?;
        Ok(count.truncated || count.tokens > tokens)
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
        let threads = super::threads_in_words(self.threads);
        writeln!(
            f,
            "tamis bench lengths: {} ({} encoder), {threads}",
            self.model_id, self.architecture
        )?;
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
