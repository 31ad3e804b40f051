//! `tamis bench embed`: embedding speed on real texts, one thread and optionally several.
//!
//! The main rows run the bundle's [`CpuEncoder`] (tract for BERT, tamis's own forward pass for
//! e5), as the CLI and the wasm module run it; BERT bundles add rows for tract's variants.

use std::num::NonZeroUsize;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;
use tamis_core::Encoder;
use tamis_model::{
    Architecture, CpuEncoder, EncoderOptions, ModelBundle, ModelError, TextTokenizer, TractEncoder,
    XlmRobertaTokenizer,
};

use crate::error::{CliError, IoAction};

/// One measured configuration.
#[derive(Debug, Serialize)]
pub struct BenchRow {
    pub setting: &'static str,
    pub batch: usize,
    /// Threads each call is split over ([`CpuEncoder::set_threads`]).
    pub threads: usize,
    pub ms_per_text: f64,
}

/// Everything `tamis bench embed` measures.
#[derive(Debug, Serialize)]
pub struct BenchReport {
    /// The architecture the bundle's encoder runs (its rows' encoder: tract for `bert`, tamis's
    /// forward pass for `xlm-roberta`).
    pub architecture: Architecture,
    pub texts: usize,
    /// Tokens per text as the encoder sees them: special tokens and e5's query prefix included.
    pub mean_tokens: f64,
    pub load_ms: f64,
    pub rows: Vec<BenchRow>,
    /// Peak resident memory of the process (Linux only).
    pub peak_rss_mib: Option<f64>,
}

/// The first `count` texts of a CSV file with a `text` column.
pub fn read_csv_texts(path: &Path, count: usize) -> Result<Vec<String>, CliError> {
    let invalid_csv = |reason: String| CliError::InvalidCsv {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| CliError::io(IoAction::Read, path, e))?;
    let mut reader = csv::Reader::from_reader(file);
    let column = reader
        .headers()
        .map_err(|e| invalid_csv(e.to_string()))?
        .iter()
        .position(|h| h == "text")
        .ok_or_else(|| invalid_csv("no `text` column".into()))?;
    reader
        .records()
        .take(count)
        .map(|record| {
            record
                .map(|r| r.get(column).unwrap_or_default().to_string())
                .map_err(|e| invalid_csv(e.to_string()))
        })
        .collect()
}

pub(crate) fn ms_per_text(
    texts: &[&str],
    run: impl Fn(&[&str]) -> Result<(), CliError>,
) -> Result<f64, CliError> {
    run(&texts[..texts.len().min(8)])?; // warm-up
    let start = Instant::now();
    run(texts)?;
    Ok(start.elapsed().as_secs_f64() * 1000.0 / texts.len().max(1) as f64)
}

/// Embeds `texts` in calls of `per_call` texts.
fn in_calls_of(
    encoder: &impl Encoder<Error = ModelError>,
    texts: &[&str],
    per_call: usize,
) -> Result<(), CliError> {
    texts.chunks(per_call.max(1)).try_for_each(|chunk| {
        encoder.embed(chunk)?;
        Ok(())
    })
}

/// Measures load time and ms per text on `texts`, one per call and `per_call` per call, the
/// same with each call split over `threads` threads when that is more than one, then, for BERT
/// bundles, tract's variants; peak memory is read while the default encoder alone is loaded.
pub fn bench_embed(
    model_dir: &Path,
    texts: &[String],
    per_call: usize,
    threads: NonZeroUsize,
) -> Result<BenchReport, CliError> {
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let start = Instant::now();
    let bundle = ModelBundle::read_dir(model_dir)?;
    let mut encoder = CpuEncoder::new(&bundle)?;
    let load_ms = start.elapsed().as_secs_f64() * 1000.0;
    let mut rows = Vec::new();
    let thread_counts = [NonZeroUsize::MIN, threads];
    let thread_counts = if threads == NonZeroUsize::MIN {
        &thread_counts[..1]
    } else {
        &thread_counts[..]
    };
    for &threads in thread_counts {
        encoder.set_threads(threads);
        let settings = [
            ("one text per call", 1),
            (
                "texts per call grouped in runs of similar length (the default)",
                per_call,
            ),
            (
                "all texts in one call, grouped in runs of similar length",
                texts.len(),
            ),
        ];
        for (setting, batch) in settings {
            rows.push(BenchRow {
                setting,
                batch,
                threads: threads.get(),
                ms_per_text: ms_per_text(&texts, |texts| in_calls_of(&encoder, texts, batch))?,
            });
        }
    }
    let peak_rss_mib = peak_rss_mib();
    drop(encoder);
    let architecture = bundle.manifest.architecture;
    if architecture == Architecture::Bert {
        rows.extend(tract_variant_rows(&bundle, &texts, per_call)?);
    }
    Ok(BenchReport {
        architecture,
        texts: texts.len(),
        mean_tokens: mean_tokens(&bundle, &texts)?,
        load_ms,
        rows,
        peak_rss_mib,
    })
}

/// ms per text of tract with some of tamis's rewrites of the graph left out (BERT bundles).
fn tract_variant_rows(
    bundle: &ModelBundle,
    texts: &[&str],
    per_call: usize,
) -> Result<Vec<BenchRow>, CliError> {
    let mut rows = Vec::new();
    // Each variant is loaded after the default encoder is dropped, one at a time.
    let variants = [
        (
            "one text per call, as shipped: whole table dequantized, tract's ops, f32 products",
            1,
            EncoderOptions {
                rewrite_dequantization: false,
                fuse_gelu: false,
                fuse_attention: false,
                integer_matmul: false,
                ..EncoderOptions::default()
            },
        ),
        (
            "texts per call padded to the longest, as onnxruntime runs them",
            per_call,
            EncoderOptions {
                batch_size: per_call,
                max_extra_tokens: usize::MAX,
                max_run_tokens: usize::MAX,
                ..EncoderOptions::default()
            },
        ),
        (
            "one text per call, tract's f32 products instead of integer ones",
            1,
            EncoderOptions {
                integer_matmul: false,
                ..EncoderOptions::default()
            },
        ),
        (
            "texts per call grouped by length, tract's f32 products",
            per_call,
            EncoderOptions {
                integer_matmul: false,
                ..EncoderOptions::default()
            },
        ),
        (
            "texts per call grouped by length, attention as some twenty tract ops",
            per_call,
            EncoderOptions {
                fuse_attention: false,
                ..EncoderOptions::default()
            },
        ),
        (
            "texts per call grouped by length, GELU as five element-wise operations",
            per_call,
            EncoderOptions {
                fuse_gelu: false,
                ..EncoderOptions::default()
            },
        ),
    ];
    for (setting, batch, options) in variants {
        let variant = TractEncoder::with_options(bundle, options)?;
        rows.push(BenchRow {
            setting,
            batch,
            threads: 1,
            ms_per_text: ms_per_text(texts, |texts| in_calls_of(&variant, texts, batch))?,
        });
    }
    Ok(rows)
}

/// Tokens per text, counted by the bundle's own tokenizer with what its encoder puts in front
/// (e5's query prefix), so that two engines can be compared per token.
fn mean_tokens(bundle: &ModelBundle, texts: &[&str]) -> Result<f64, CliError> {
    let counter = TokenCounter::new(bundle)?;
    let counts = (texts.iter())
        .map(|text| Ok(counter.count(text)?.tokens))
        .collect::<Result<Vec<usize>, CliError>>()?;
    Ok(counts.iter().sum::<usize>() as f64 / counts.len().max(1) as f64)
}

/// A text's tokens as the bundle's encoder counts them.
pub(crate) struct TokenCount {
    /// Special tokens and e5's query prefix included.
    pub tokens: usize,
    /// The text was cut to the model's window.
    pub truncated: bool,
}

/// The bundle's own tokenizer, with what its encoder puts in front of each text.
pub(crate) enum TokenCounter {
    Bert(Box<TextTokenizer>),
    XlmRoberta {
        tokenizer: Box<XlmRobertaTokenizer>,
        prefix: String,
    },
}

impl TokenCounter {
    pub(crate) fn new(bundle: &ModelBundle) -> Result<Self, CliError> {
        let manifest = &bundle.manifest;
        Ok(match manifest.architecture {
            Architecture::Bert => Self::Bert(Box::new(TextTokenizer::from_bundle(bundle)?)),
            Architecture::XlmRoberta => Self::XlmRoberta {
                tokenizer: Box::new(XlmRobertaTokenizer::from_model_file(
                    &bundle.model,
                    manifest.max_tokens,
                )?),
                prefix: manifest
                    .prefixes
                    .as_ref()
                    .map_or("", |p| p.query.as_str())
                    .to_string(),
            },
        })
    }

    pub(crate) fn count(&self, text: &str) -> Result<TokenCount, CliError> {
        Ok(match self {
            Self::Bert(tokenizer) => {
                let tokenized = tokenizer.tokenize(&[text])?.remove(0);
                TokenCount {
                    tokens: tokenized.ids.len(),
                    truncated: tokenized.truncated,
                }
            }
            Self::XlmRoberta { tokenizer, prefix } => {
                let tokenized = tokenizer.tokenize(prefix, text);
                TokenCount {
                    tokens: tokenized.ids.len(),
                    truncated: tokenized.truncated,
                }
            }
        })
    }
}

/// `VmHWM` of `/proc/self/status`, in MiB.
pub(crate) fn peak_rss_mib() -> Option<f64> {
    status_mib("VmHWM:")
}

/// A memory field of `/proc/self/status` (Linux only), in MiB.
pub(crate) fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "tamis bench embed: {} texts, {:.1} tokens on average, {} encoder",
            self.texts, self.mean_tokens, self.architecture
        )?;
        writeln!(f, "| setting | batch | threads | ms per text |")?;
        writeln!(f, "|---|---:|---:|---:|")?;
        for row in &self.rows {
            writeln!(
                f,
                "| {} | {} | {} | {:.2} |",
                row.setting, row.batch, row.threads, row.ms_per_text
            )?;
        }
        writeln!(f, "model load: {:.0} ms", self.load_ms)?;
        match self.peak_rss_mib {
            Some(mib) => writeln!(f, "peak memory (RSS): {mib:.0} MiB"),
            None => writeln!(f, "peak memory: not available on this platform"),
        }
    }
}
