//! `tamis classify`: one verdict per text under a policy, with scores, action and reason.

use std::path::PathBuf;

use clap::Args;
use tamis_core::classify::{Action, Classifier, ClassifierOptions, Policy, Reason, Verdict};

use super::{print_lines, Globals, ReportFormat};
use crate::error::{CliError, IoAction};
use crate::input::{as_strs, read_texts_or_samples, InputFormat};

/// The policy `tamis classify` uses when none is given.
pub(crate) const SAMPLE_POLICY: &str = include_str!("../../samples/policy.json");

#[derive(Args)]
pub struct ClassifyArgs {
    /// The policy JSON (see samples/policy.json); the sample policy when absent.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Input file; the built-in sample posts when absent.
    #[arg(long)]
    input: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = InputFormat::Lines)]
    format: InputFormat,
    /// Leave out the built-in priors of the standard categories.
    #[arg(long)]
    no_priors: bool,
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    output: ReportFormat,
}

pub fn run(globals: &Globals, args: ClassifyArgs) -> Result<(), CliError> {
    let policy = match &args.policy {
        Some(path) => Policy::from_json(
            &std::fs::read_to_string(path).map_err(|e| CliError::io(IoAction::Read, path, e))?,
        )?,
        None => Policy::from_json(SAMPLE_POLICY)?,
    };
    let texts = read_texts_or_samples(args.input.as_deref(), args.format)?;
    let bundle = globals.bundle()?;
    let priors = if args.no_priors {
        None
    } else {
        super::built_in_priors(&bundle)?
    };
    let encoder = globals.encoder(bundle)?;
    let mut classifier = Classifier::new(policy, priors, ClassifierOptions::default())?;
    let verdicts = classifier.classify(&encoder, &as_strs(&texts))?;
    print_lines(
        texts
            .iter()
            .zip(&verdicts)
            .enumerate()
            .map(|(index, (text, verdict))| match args.output {
                ReportFormat::Json => {
                    serde_json::json!({"line": index + 1, "verdict": verdict}).to_string()
                }
                ReportFormat::Table => verdict_line(text, verdict),
            }),
    )
}

/// One readable line: action, decided labels with scores, the text, and the reason.
fn verdict_line(text: &str, verdict: &Verdict) -> String {
    let action = verdict.action.map_or("show", |a| match a {
        Action::Warn => "warn",
        Action::Blur => "blur",
        Action::Hide => "hide",
    });
    let labels: Vec<String> = verdict
        .scores
        .iter()
        .filter(|s| s.matched)
        .map(|s| format!("{} {:.2}", s.category, s.score))
        .collect();
    let excerpt: String = text.chars().take(70).collect();
    let ellipsis = if excerpt.len() < text.len() {
        "…"
    } else {
        ""
    };
    let reason = match &verdict.reason {
        Some(Reason::Example {
            text, similarity, ..
        }) => {
            format!("nearest example ({similarity:.2}): {text}")
        }
        Some(Reason::Definition { similarity, .. }) => {
            format!("closest to the definition ({similarity:.2})")
        }
        Some(Reason::Keep {
            text, similarity, ..
        }) => {
            format!("kept, like ({similarity:.2}): {text}")
        }
        None => String::new(),
    };
    if labels.is_empty() {
        format!("{action:<5} {excerpt}{ellipsis}")
    } else {
        format!(
            "{action:<5} {excerpt}{ellipsis}\n      [{}] {reason}",
            labels.join(", ")
        )
    }
}
