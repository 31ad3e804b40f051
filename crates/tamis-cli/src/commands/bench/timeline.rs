//! `tamis bench timeline`: from a bundle's bytes to the verdicts on a home timeline.
//!
//! What a user waits for: the first `--posts` posts of a timeline classified under a policy,
//! cold (the bundle's bytes already read: verified, the encoder loaded, the policy's texts
//! embedded and its categories fitted, the posts classified) and warm (the model loaded and
//! the policy fitted: as many new posts classified).

use std::num::NonZeroUsize;
use std::time::Instant;

use serde::Serialize;
use tamis_core::classify::{Classifier, ClassifierOptions, Policy};
use tamis_model::{Architecture, CpuEncoder, Manifest, ModelBundle};

use crate::error::{CliError, IoAction};

/// The files of a bundle, read from disk before the clock starts.
pub struct BundleBytes {
    manifest: Vec<u8>,
    model: Vec<u8>,
    tokenizer: Option<Vec<u8>>,
}

impl BundleBytes {
    /// Reads `manifest.json` and the files its architecture names from `dir`.
    pub fn read(dir: &std::path::Path) -> Result<Self, CliError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|e| CliError::io(IoAction::Read, &path, e))
        };
        let manifest = read("manifest.json")?;
        let architecture: Architecture = Manifest::from_json(&manifest)?.architecture;
        Ok(Self {
            model: read(architecture.model_file())?,
            tokenizer: architecture.tokenizer_file().map(read).transpose()?,
            manifest,
        })
    }
}

/// One cold start, phase by phase, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ColdStart {
    /// Bytes to encoder: the manifest parsed, the files' sha256 checked, the built-in priors
    /// read, the encoder built.
    pub load_ms: f64,
    /// The policy's examples, definitions and keep texts embedded and its categories fitted.
    pub fit_ms: f64,
    /// The posts embedded and their verdicts computed.
    pub classify_ms: f64,
    pub total_ms: f64,
}

/// What `tamis bench timeline` measures.
#[derive(Debug, Serialize)]
pub struct TimelineReport {
    pub architecture: Architecture,
    pub model_id: String,
    pub posts: usize,
    /// Tokens per post as the encoder counts them.
    pub mean_tokens: f64,
    pub categories: usize,
    pub threads: usize,
    /// The cold start whose total is the median of the runs.
    pub cold: ColdStart,
    /// The fastest and slowest cold totals.
    pub cold_range_ms: (f64, f64),
    /// The median time to classify `posts` new posts with the model loaded and the policy
    /// fitted.
    pub warm_ms: f64,
    pub runs: usize,
    /// How many of the cold start's posts the policy filters (hide, blur or warn): a check
    /// that the verdicts are real ones.
    pub filtered: usize,
}

/// Measures `runs` cold starts from `bytes` on `posts` (their first half; the second half is
/// the warm run's new posts) under `policy`, on `threads` threads.
pub fn bench_timeline(
    bytes: &BundleBytes,
    policy: &Policy,
    posts: &[String],
    runs: usize,
    threads: NonZeroUsize,
) -> Result<TimelineReport, CliError> {
    let (first, new) = posts.split_at(posts.len() / 2);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let new: Vec<&str> = new.iter().map(String::as_str).collect();
    let mut colds = Vec::new();
    let mut warms = Vec::new();
    let mut last = None;
    for _ in 0..runs.max(1) {
        // The bytes a host hands over (copied before the clock starts).
        let (model, tokenizer) = (bytes.model.clone(), bytes.tokenizer.clone());
        let start = Instant::now();
        let bundle = ModelBundle::from_bytes(&bytes.manifest, model, tokenizer)?;
        let priors = super::super::built_in_priors(&bundle)?;
        let manifest = bundle.manifest.clone();
        let mut encoder = CpuEncoder::from_bundle(bundle)?;
        encoder.set_threads(threads);
        let loaded = Instant::now();
        let mut classifier = Classifier::new(policy.clone(), priors, ClassifierOptions::default())?;
        classifier.classify(&encoder, &[])?;
        let fitted = Instant::now();
        let verdicts = classifier.classify(&encoder, &first)?;
        let classified = Instant::now();
        let ms = |from: Instant, to: Instant| (to - from).as_secs_f64() * 1000.0;
        colds.push(ColdStart {
            load_ms: ms(start, loaded),
            fit_ms: ms(loaded, fitted),
            classify_ms: ms(fitted, classified),
            total_ms: ms(start, classified),
        });
        let warm = Instant::now();
        classifier.classify(&encoder, &new)?;
        warms.push(ms(warm, Instant::now()));
        let filtered = verdicts.iter().filter(|v| v.action.is_some()).count();
        last = Some((manifest, encoder, filtered));
    }
    let (manifest, encoder, filtered) = last.expect("at least one run");
    colds.sort_by(|a, b| a.total_ms.total_cmp(&b.total_ms));
    warms.sort_by(f64::total_cmp);
    let embeddings = tamis_core::Encoder::embed(&encoder, &first)?;
    Ok(TimelineReport {
        architecture: manifest.architecture,
        model_id: manifest.id,
        posts: first.len(),
        mean_tokens: embeddings.iter().map(|e| e.tokens).sum::<usize>() as f64
            / embeddings.len().max(1) as f64,
        categories: policy.categories.len(),
        threads: threads.get(),
        cold: colds[colds.len() / 2],
        cold_range_ms: (colds[0].total_ms, colds[colds.len() - 1].total_ms),
        warm_ms: warms[warms.len() / 2],
        runs: colds.len(),
        filtered,
    })
}

impl std::fmt::Display for TimelineReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let threads = super::threads_in_words(self.threads);
        writeln!(
            f,
            "tamis bench timeline: {} ({} encoder), {} posts of {:.1} tokens on average, a \
             policy of {} categories, {threads}; median of {} runs",
            self.model_id,
            self.architecture,
            self.posts,
            self.mean_tokens,
            self.categories,
            self.runs
        )?;
        writeln!(f, "| | ms |")?;
        writeln!(f, "|---|---:|")?;
        let cold = &self.cold;
        writeln!(
            f,
            "| cold: bytes to encoder (sha256 checked, priors read) | {:.0} |",
            cold.load_ms
        )?;
        writeln!(
            f,
            "| cold: policy embedded and fitted | {:.0} |",
            cold.fit_ms
        )?;
        writeln!(
            f,
            "| cold: {} posts classified | {:.0} |",
            self.posts, cold.classify_ms
        )?;
        writeln!(
            f,
            "| **cold: bytes to verdicts** ({:.0}-{:.0}) | **{:.0}** |",
            self.cold_range_ms.0, self.cold_range_ms.1, cold.total_ms
        )?;
        writeln!(
            f,
            "| **warm: {} new posts to verdicts** | **{:.0}** |",
            self.posts, self.warm_ms
        )?;
        writeln!(
            f,
            "{} of the {} posts filtered (hide, blur or warn)",
            self.filtered, self.posts
        )
    }
}
