//! `tamis prior fit`: the built-in priors, fitted on the `train.csv` splits only.
//!
//! Each standard category gets a class-balanced logistic model over its harmful training
//! texts against the benign texts of every dataset (so that, say, the spam prior does not
//! fire on ordinary chat or film reviews). The pull towards zero is chosen on a held-out
//! fifth of the training data; the model is then refitted on all of it. The benign texts are
//! also summarized as the background that stands in for counter-examples a policy lacks.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Subcommand;
use tamis_core::classify::{
    fit_balanced, sigmoid, summarize_background, text_features, ClassifierOptions, ClassifyError,
    FitOptions, LinearModel, Priors, TextFeatures,
};
use tamis_core::Encoder;
use tamis_eval::harmful::{read_tasks, Task, HARMFUL_DIR};
use tamis_eval::store::CachedEncoder;

use super::eval::cache_file;
use super::{print_text, Globals};
use crate::data::DataRoot;
use crate::error::{CliError, IoAction};

#[derive(Subcommand)]
pub enum PriorCommand {
    /// Fit the priors on the data's harmful/*/train.csv splits and write them for the current
    /// model.
    Fit {
        #[command(flatten)]
        data: DataRoot,
        /// Where to write them (default: the built-in priors of the model,
        /// crates/tamis-model/priors/<model id>.priors).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Where embeddings of the training texts are cached.
        #[arg(long, default_value = "target/eval/harmful")]
        cache: PathBuf,
    },
}

pub fn run(globals: &Globals, command: PriorCommand) -> Result<(), CliError> {
    let PriorCommand::Fit { data, out, cache } = command;
    let tasks = read_tasks(data.dir_with(HARMFUL_DIR)?)?;
    let bundle = globals.bundle()?;
    let model_sha256 = bundle.model_sha256().to_string();
    let out = out.unwrap_or_else(|| tamis_model::priors_path(&bundle.manifest.id).into());
    let cache_file = cache_file(&bundle, &cache);
    let encoder = globals.encoder(bundle)?;
    let cached = CachedEncoder::open(&encoder, &cache_file);
    let features = training_features(&tasks, &cached);
    // Saved before fitting: the embeddings are the slow part, and a failed fit keeps them.
    cached.save()?;
    let (priors, report) = fit_priors(&tasks, &features?, &model_sha256);
    let bytes = priors.to_bytes();
    std::fs::write(&out, &bytes).map_err(|e| CliError::io(IoAction::Write, &out, e))?;
    print_text(&format!(
        "{report}wrote {} ({} bytes)\n",
        out.display(),
        bytes.len()
    ))
}

/// Strengths of the pull towards zero tried on the held-out fifth.
const L2_CANDIDATES: [f32; 4] = [1e-7, 1e-6, 1e-5, 1e-4];
/// Background points and the lexical entries each keeps.
/// Adam steps of a prior fit (a user's fit needs fewer: it starts from the prior).
const PRIOR_ITERATIONS: usize = 1000;
const BACKGROUND_POINTS: usize = 64;
const BACKGROUND_ENTRIES: usize = 48;

/// F1 of the model on held-out texts of one dataset.
fn f1(
    model: &LinearModel,
    positives: &[(&TextFeatures, f32)],
    negatives: &[(&TextFeatures, f32)],
) -> f64 {
    let caught = |texts: &[(&TextFeatures, f32)]| {
        texts
            .iter()
            .filter(|(f, _)| sigmoid(model.logit(f)) >= 0.5)
            .count() as f64
    };
    let (true_positives, false_positives) = (caught(positives), caught(negatives));
    2.0 * true_positives / (positives.len() as f64 + true_positives + false_positives).max(1.0)
}

fn fit_from_zero(
    positives: &[(&TextFeatures, f32)],
    negatives: &[(&TextFeatures, f32)],
    options: &FitOptions,
) -> LinearModel {
    let dimension = positives.first().map_or(0, |(f, _)| f.embedding.len());
    fit_balanced(
        positives,
        negatives,
        &LinearModel::zeros(dimension),
        options,
    )
}

/// The features of every task's training texts, with whether each is harmful.
fn training_features<E: Encoder>(
    tasks: &[Task],
    encoder: &E,
) -> Result<Vec<Vec<(TextFeatures, bool)>>, CliError>
where
    CliError: From<ClassifyError<E::Error>>,
{
    let options = ClassifierOptions::default();
    let mut features = Vec::new();
    for task in tasks {
        let texts: Vec<&str> = task.train.iter().map(|l| l.text.as_str()).collect();
        let computed = text_features(encoder, &texts, &options)?;
        features.push(
            computed
                .into_iter()
                .zip(&task.train)
                .map(|((f, _), l)| (f, l.harmful))
                .collect(),
        );
    }
    Ok(features)
}

/// Fits the priors of every task from its training features; returns them with a report of
/// the held-out choice.
fn fit_priors(
    tasks: &[Task],
    features: &[Vec<(TextFeatures, bool)>],
    model_sha256: &str,
) -> (Priors, String) {
    // Every fifth text is held out to choose the regularization. Each dataset's benign texts
    // weigh the same in total, so the large SMS set does not drown the others.
    let benign_counts: Vec<usize> = features
        .iter()
        .map(|texts| texts.iter().filter(|(_, h)| !h).count())
        .collect();
    let split = |held_out: Option<bool>, harmful: bool, task: Option<usize>| {
        features
            .iter()
            .enumerate()
            .filter(|(t, _)| task.is_none_or(|task| task == *t))
            .flat_map(|(t, texts)| texts.iter().enumerate().map(move |(i, text)| (t, i, text)))
            .filter(|(_, i, (_, h))| *h == harmful && held_out.is_none_or(|o| (i % 5 == 0) == o))
            .map(|(t, _, (f, _))| {
                (
                    f,
                    if harmful {
                        1.0
                    } else {
                        1.0 / benign_counts[t] as f32
                    },
                )
            })
            .collect::<Vec<(&TextFeatures, f32)>>()
    };
    let mut report = String::from("| prior | l2 | held-out F1 |\n|---|---|---|\n");
    let mut categories = Vec::new();
    for (t, task) in tasks.iter().enumerate() {
        let mut best = (f64::NEG_INFINITY, L2_CANDIDATES[0]);
        for l2 in L2_CANDIDATES {
            let fit_options = FitOptions {
                l2,
                iterations: PRIOR_ITERATIONS,
                ..FitOptions::default()
            };
            let model = fit_from_zero(
                &split(Some(false), true, Some(t)),
                &split(Some(false), false, None),
                &fit_options,
            );
            let score = f1(
                &model,
                &split(Some(true), true, Some(t)),
                &split(Some(true), false, Some(t)),
            );
            let _ = writeln!(report, "| {} | {l2:e} | {score:.3} |", task.category);
            if score > best.0 {
                best = (score, l2);
            }
        }
        let fit_options = FitOptions {
            l2: best.1,
            iterations: PRIOR_ITERATIONS,
            ..FitOptions::default()
        };
        let _ = writeln!(report, "| {} | chosen: {:e} | |", task.category, best.1);
        categories.push((
            task.category.to_string(),
            fit_from_zero(
                &split(None, true, Some(t)),
                &split(None, false, None),
                &fit_options,
            ),
        ));
    }
    let benign: Vec<TextFeatures> = features
        .iter()
        .flatten()
        .filter(|(_, harmful)| !harmful)
        .map(|(f, _)| f.clone())
        .collect();
    let priors = Priors {
        model_sha256: model_sha256.to_string(),
        categories,
        background: summarize_background(&benign, BACKGROUND_POINTS, BACKGROUND_ENTRIES),
    };
    (priors, report)
}
