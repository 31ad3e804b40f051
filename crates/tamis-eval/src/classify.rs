//! `tamis eval classify`: the personalized classifier on the seed datasets, in PHCD's
//! settings. Demonstrations come only from `train.csv`; every draw is seeded.

use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

use tamis_core::classify::{
    text_features, Category, Classifier, ClassifierOptions, Mode, Policy, Priors, TextFeatures,
    Verdict,
};
use tamis_core::cosine;

use crate::harmful::{read_mastodon, Labeled, Post, Task};
use crate::perturb::Perturbation;
use crate::report::{f1_plot, Counts, Draws, MeanMetrics, ScoreQuality, Series};
use crate::table::{figure, Table};
use crate::{EvalEncoder, EvalError};

/// Shots per class reported.
pub const SHOTS: [usize; 5] = [1, 4, 8, 32, 128];
/// Harmful examples of a renamed category reported.
pub const RENAMED_SHOTS: [usize; 5] = [1, 2, 4, 8, 32];
/// Seeds averaged over.
pub const SEEDS: u64 = 5;
/// Harmful examples of a renamed category whose figures the side-by-side summary shows.
const SUMMARY_SHOTS: [usize; 2] = [8, 32];
/// Test texts per dataset in the obfuscation setting.
const OBFUSCATION_TEXTS: usize = 500;
/// Issue 18's goal for `gloomy`: this share of the negative reviews caught from
/// [`CEILING_SHOTS`] examples (with at most .15 of the benign texts hidden).
const CEILING_RECALL: f64 = 0.75;
/// The examples (and positive reviews) of `gloomy`'s bound.
const CEILING_SHOTS: usize = 8;

/// The ways of classifying compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The classifier as shipped: built-in priors, background, lexical features.
    Tamis,
    /// Without the category priors, keeping the benign background.
    BackgroundOnly,
    /// With no built-in weights at all.
    NoBuiltIn,
    /// Logistic regression on the embedding alone, no built-in weights.
    EmbeddingProbe,
    /// Nearest class centroid of the embeddings.
    Prototype,
    /// Similarity-weighted vote of the nearest examples.
    NearestNeighbours,
}

impl Method {
    pub const ALL: [Method; 6] = [
        Method::Tamis,
        Method::BackgroundOnly,
        Method::NoBuiltIn,
        Method::EmbeddingProbe,
        Method::Prototype,
        Method::NearestNeighbours,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::Tamis => "tamis (priors + examples)",
            Method::BackgroundOnly => "tamis without category priors (benign background only)",
            Method::NoBuiltIn => "tamis without any built-in weights",
            Method::EmbeddingProbe => "linear probe on embeddings",
            Method::Prototype => "nearest prototype",
            Method::NearestNeighbours => "similarity-weighted kNN",
        }
    }
}

/// One figure of the side-by-side summary: what it is, and its value (several, joined by
/// ` / `, where one row covers several datasets or shot counts).
#[derive(Debug, Clone, PartialEq)]
pub struct Headline {
    pub label: String,
    pub value: String,
}

/// The side-by-side summary: each headline figure (a row, in the order first measured) of
/// each model (a column; blank where that model's run did not measure it).
pub fn side_by_side(models: &[(String, Vec<Headline>)]) -> Table {
    let header: Vec<&str> = std::iter::once("figure")
        .chain(models.iter().map(|(model, _)| model.as_str()))
        .collect();
    let mut table = Table::new("Summary: the models side by side", &header).with_note(format!(
        "Headline figures of the sections below, each measured with its model: F1 of the \
         harmful class or ECE (expected calibration error), mean of {SEEDS} seeds."
    ));
    let mut labels: Vec<&str> = Vec::new();
    for headline in models.iter().flat_map(|(_, headlines)| headlines) {
        if !labels.contains(&headline.label.as_str()) {
            labels.push(&headline.label);
        }
    }
    for label in labels {
        let cells = models.iter().map(|(_, headlines)| {
            headlines
                .iter()
                .find(|h| h.label == label)
                .map_or_else(String::new, |h| h.value.clone())
        });
        table.row(std::iter::once(label.to_string()).chain(cells));
    }
    table
}

/// Everything an evaluation run needs.
pub struct Evaluation<'a, E> {
    pub encoder: &'a E,
    pub priors: Arc<Priors>,
    pub tasks: &'a [Task],
    /// The model's name, written into every table's caption.
    pub model: String,
    /// The headline figures the sections run so far measured, for the summary.
    headlines: RefCell<Vec<Headline>>,
    /// The priors without their category models: the benign background alone.
    background_only: Arc<Priors>,
    /// Features of each task's test texts, for the methods outside the classifier.
    test_features: Vec<Vec<TextFeatures>>,
}

fn texts(split: &[Labeled]) -> Vec<&str> {
    split.iter().map(|l| l.text.as_str()).collect()
}

fn of_class(split: &[Labeled], harmful: bool) -> Vec<&str> {
    split
        .iter()
        .filter(|l| l.harmful == harmful)
        .map(|l| l.text.as_str())
        .collect()
}

/// One category with its examples and definition.
fn category(name: &str, examples: Vec<String>, definition: Option<&str>) -> Category {
    Category {
        definition: definition.map(str::to_string),
        examples,
        ..Category::new(name)
    }
}

fn policy(mode: Mode, categories: Vec<Category>, keep: Vec<String>) -> Policy {
    Policy {
        categories,
        keep,
        ..Policy::new(mode)
    }
}

impl<'a, E: EvalEncoder> Evaluation<'a, E> {
    /// The evaluation of `model` (its name in the tables) on `tasks`.
    pub fn new(
        encoder: &'a E,
        priors: Arc<Priors>,
        tasks: &'a [Task],
        model: &str,
    ) -> Result<Self, EvalError> {
        let options = ClassifierOptions::default();
        let test_features = tasks
            .iter()
            .map(|task| {
                Ok(text_features(encoder, &texts(&task.test), &options)?
                    .into_iter()
                    .map(|(f, _)| f)
                    .collect())
            })
            .collect::<Result<Vec<_>, EvalError>>()?;
        let background_only = Arc::new(Priors {
            categories: Vec::new(),
            ..(*priors).clone()
        });
        Ok(Evaluation {
            encoder,
            priors,
            tasks,
            model: model.to_string(),
            headlines: RefCell::new(Vec::new()),
            background_only,
            test_features,
        })
    }

    /// A table whose caption names the model measured.
    pub(crate) fn table(&self, caption: impl Into<String>, header: &[&str]) -> Table {
        Table::new(format!("{} [{}]", caption.into(), self.model), header)
    }

    /// Records a figure for the side-by-side summary.
    pub(crate) fn headline(&self, label: impl Into<String>, values: &[String]) {
        self.headlines.borrow_mut().push(Headline {
            label: label.into(),
            value: values.join(" / "),
        });
    }

    /// The headline figures of the sections run, in the order they ran.
    pub fn headlines(&self) -> Vec<Headline> {
        self.headlines.borrow().clone()
    }

    fn classifier(&self, policy: Policy, method: Method) -> Result<Classifier, EvalError> {
        let (priors, options) = match method {
            Method::Tamis => (Some(self.priors.clone()), ClassifierOptions::default()),
            Method::BackgroundOnly => (
                Some(self.background_only.clone()),
                ClassifierOptions::default(),
            ),
            Method::NoBuiltIn => (None, ClassifierOptions::default()),
            _ => (
                None,
                ClassifierOptions {
                    lexical: false,
                    calibrate: false,
                    ..ClassifierOptions::default()
                },
            ),
        };
        Ok(Classifier::new(policy, priors, options)?)
    }

    fn verdicts(
        &self,
        classifier: &mut Classifier,
        texts: &[&str],
    ) -> Result<Vec<Verdict>, EvalError> {
        Ok(classifier.classify(self.encoder, texts)?)
    }

    /// Demonstrations for a task: `k` harmful and `k` benign training texts.
    fn draw(&self, task: usize, k: usize, seed: u64) -> (Vec<String>, Vec<String>) {
        let mut draws = Draws::new(seed * 1_000_003 + k as u64 * 101 + task as u64);
        let train = &self.tasks[task].train;
        let harmful = draws.sample(&of_class(train, true), k);
        let benign = draws.sample(&of_class(train, false), k);
        (harmful, benign)
    }

    /// One binary run: counts and, for classifier methods, the calibration error.
    fn binary_run(
        &self,
        task: usize,
        method: Method,
        k: usize,
        seed: u64,
    ) -> Result<(Counts, Option<ScoreQuality>), EvalError> {
        let (harmful, benign) = self.draw(task, k, seed);
        let test = &self.tasks[task].test;
        let mut counts = Counts::default();
        match method {
            Method::Prototype | Method::NearestNeighbours => {
                let options = ClassifierOptions::default();
                let embed = |texts: &[String]| -> Result<Vec<Vec<f32>>, EvalError> {
                    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                    Ok(text_features(self.encoder, &refs, &options)?
                        .into_iter()
                        .map(|(f, _)| f.embedding)
                        .collect())
                };
                let (positives, negatives) = (embed(&harmful)?, embed(&benign)?);
                for (features, labeled) in self.test_features[task].iter().zip(test) {
                    let predicted = if method == Method::Prototype {
                        prototype_score(&features.embedding, &positives, &negatives) > 0.0
                    } else {
                        neighbour_vote(&features.embedding, &positives, &negatives) > 0.0
                    };
                    counts.add(predicted, labeled.harmful);
                }
                Ok((counts, None))
            }
            _ => {
                let name = self.tasks[task].category;
                let policy = policy(Mode::Binary, vec![category(name, harmful, None)], benign);
                self.binary_policy_run(task, policy, method)
            }
        }
    }

    /// Mean metrics of a method over the seeds.
    pub(crate) fn binary_mean(
        &self,
        task: usize,
        method: Method,
        k: usize,
    ) -> Result<MeanMetrics, EvalError> {
        let runs = (0..SEEDS)
            .map(|seed| self.binary_run(task, method, k, seed))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(MeanMetrics::of(&runs))
    }

    /// The benchmark tables and the SVG plot.
    pub fn benchmark(&self, out: &mut String) -> Result<String, EvalError> {
        let mut results = Vec::new();
        for method in Method::ALL {
            for task in 0..self.tasks.len() {
                for &k in &SHOTS {
                    results.push((method, task, k, self.binary_mean(task, method, k)?));
                    eprintln!("{} / {} / k={k}", method.name(), self.tasks[task].dataset);
                }
            }
        }
        let shots = SHOTS.map(|k| k.to_string()).join(" / ");
        let header: Vec<String> = std::iter::once("method".to_string())
            .chain(
                self.tasks
                    .iter()
                    .map(|t| format!("{} k={shots}", t.dataset)),
            )
            .collect();
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut f1_table = self.table(
            format!("F1 of the harmful class, k shots per class, mean of {SEEDS} seeds"),
            &header,
        );
        for method in Method::ALL {
            let cells = (0..self.tasks.len()).map(|task| {
                results
                    .iter()
                    .filter(|r| r.0 == method && r.1 == task)
                    .map(|r| figure(r.3.f1))
                    .collect::<Vec<_>>()
                    .join(" / ")
            });
            f1_table.row(std::iter::once(method.name().to_string()).chain(cells));
        }
        out.push_str(&f1_table.to_string());
        let mut at_32 = self.table(
            "Every metric at k = 32 (ECE: expected calibration error of the scores)",
            &metric_header(&["method", "dataset"]),
        );
        for (method, task, _, metrics) in results.iter().filter(|r| r.2 == 32) {
            at_32.row(labelled(
                &[method.name(), self.tasks[*task].dataset],
                metrics,
            ));
        }
        out.push_str(&at_32.to_string());
        let panels = (0..self.tasks.len())
            .map(|task| {
                let series = Method::ALL
                    .iter()
                    .map(|&method| Series {
                        name: method.name().to_string(),
                        points: results
                            .iter()
                            .filter(|r| r.0 == method && r.1 == task)
                            .map(|r| (r.2, r.3.f1))
                            .collect(),
                    })
                    .collect();
                (self.tasks[task].dataset.to_string(), series)
            })
            .collect::<Vec<_>>();
        Ok(f1_plot(&panels))
    }

    /// One binary run of a task's category under its new name (no prior applies), with
    /// `k` harmful examples, `k` keep texts or none, and the definition or not.
    fn renamed_run(
        &self,
        task: usize,
        k: usize,
        with_keep: bool,
        with_definition: bool,
        seed: u64,
    ) -> Result<(Counts, Option<ScoreQuality>), EvalError> {
        let (harmful, benign) = self.draw(task, k, seed);
        let task_data = &self.tasks[task];
        let definition = with_definition.then_some(task_data.definition);
        let keep = if with_keep { benign } else { Vec::new() };
        let policy = policy(
            Mode::Binary,
            vec![category(task_data.renamed, harmful, definition)],
            keep,
        );
        self.binary_policy_run(task, policy, Method::Tamis)
    }

    /// Counts and calibration error of a one-category binary policy on a task's test set.
    fn binary_policy_run(
        &self,
        task: usize,
        policy: Policy,
        method: Method,
    ) -> Result<(Counts, Option<ScoreQuality>), EvalError> {
        let test = &self.tasks[task].test;
        let mut classifier = self.classifier(policy, method)?;
        let verdicts = self.verdicts(&mut classifier, &texts(test))?;
        let mut counts = Counts::default();
        let mut scored = Vec::with_capacity(test.len());
        for (verdict, labeled) in verdicts.iter().zip(test) {
            counts.add(verdict.harmful, labeled.harmful);
            scored.push((verdict.scores[0].score, labeled.harmful));
        }
        Ok((counts, Some(ScoreQuality::of(&scored))))
    }

    pub(crate) fn renamed_mean(
        &self,
        task: usize,
        k: usize,
        with_keep: bool,
        with_definition: bool,
    ) -> Result<MeanMetrics, EvalError> {
        // Without examples nothing is drawn: one run is every run.
        let seeds = if k == 0 { 1 } else { SEEDS };
        let runs = (0..seeds)
            .map(|seed| self.renamed_run(task, k, with_keep, with_definition, seed))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(MeanMetrics::of(&runs))
    }

    /// A user's own categories: each task's category under a name no prior knows, by number
    /// of harmful examples with and without keep texts, against the linear probe and the
    /// standard name; definition only, examples only and both; calibration; and the three
    /// renamed categories in one policy.
    pub fn renamed(&self, out: &mut String) -> Result<(), EvalError> {
        let shots = RENAMED_SHOTS.map(|k| format!("k={k}"));
        let header: Vec<&str> = ["dataset", "setting"]
            .into_iter()
            .chain(shots.iter().map(String::as_str))
            .collect();
        let mut f1_table = self.table(
            format!("Renamed categories: F1 of the harmful class by k harmful examples, mean of {SEEDS} seeds"),
            &header,
        )
        .with_note(
            "Renamed: the category under a new name (spam as `junk`, toxic as `insults`, \
             negative as `gloomy`), so no built-in prior applies; the benign background stays. \
             \"k keep texts\": k benign training texts as the policy's keep texts; \"no keep \
             texts\": the examples alone. The linear probe and the standard name (its prior \
             applies) get k harmful and k benign texts.",
        );
        let mut calibration = self.table(
            "Calibration: renamed against standard categories (k harmful examples, k keep texts)",
            &[
                "dataset",
                "k",
                "F1 renamed (± sd across seeds)",
                "F1 renamed, best threshold on the test set",
                "F1 standard",
                "ECE renamed",
                "ECE standard",
            ],
        )
        .with_note(
            "\"Best threshold on the test set\": the F1 of the renamed category's scores at the \
             threshold that suits each run's test set best (an oracle that reads the labels): \
             where it is below a target, no calibration of these scores reaches the target; \
             where F1 at 0.5 is well below it, the calibration is what misses.",
        );
        // The summary's figures at k = 8 and 32: F1 and ECE per dataset.
        let mut summary: [(Vec<String>, Vec<String>); SUMMARY_SHOTS.len()] = Default::default();
        for (t, task) in self.tasks.iter().enumerate() {
            let mut rows: [Vec<String>; 4] = Default::default();
            for &k in &RENAMED_SHOTS {
                let with_keep = self.renamed_mean(t, k, true, false)?;
                let without_keep = self.renamed_mean(t, k, false, false)?;
                let probe = self.binary_mean(t, Method::EmbeddingProbe, k)?;
                let standard = self.binary_mean(t, Method::Tamis, k)?;
                for (row, metrics) in
                    rows.iter_mut()
                        .zip([&with_keep, &without_keep, &probe, &standard])
                {
                    row.push(figure(metrics.f1));
                }
                let ece = |m: &MeanMetrics| m.calibration_error.map_or_else(String::new, figure);
                if let Some(at) = SUMMARY_SHOTS.iter().position(|&s| s == k) {
                    summary[at].0.push(figure(with_keep.f1));
                    summary[at].1.push(ece(&with_keep));
                    calibration.row([
                        task.dataset.to_string(),
                        k.to_string(),
                        format!(
                            "{} ± {}",
                            figure(with_keep.f1),
                            figure(with_keep.f1_deviation)
                        ),
                        with_keep.best_threshold_f1.map_or_else(String::new, figure),
                        figure(standard.f1),
                        ece(&with_keep),
                        ece(&standard),
                    ]);
                }
                eprintln!("renamed / {} / k={k}", task.dataset);
            }
            let settings = [
                "renamed, k keep texts",
                "renamed, no keep texts",
                "linear probe on embeddings",
                "standard name (prior)",
            ];
            for (setting, row) in settings.iter().zip(rows) {
                f1_table.row(
                    [task.dataset.to_string(), setting.to_string()]
                        .into_iter()
                        .chain(row),
                );
            }
        }
        out.push_str(&f1_table.to_string());
        out.push_str(&calibration.to_string());
        let datasets = self
            .tasks
            .iter()
            .map(|t| t.dataset)
            .collect::<Vec<_>>()
            .join(" / ");
        for (k, (f1s, _)) in SUMMARY_SHOTS.iter().zip(&summary) {
            self.headline(
                format!("renamed categories, F1 at k = {k} ({datasets})"),
                f1s,
            );
        }
        for (k, (_, errors)) in SUMMARY_SHOTS.iter().zip(&summary) {
            self.headline(
                format!("renamed categories, ECE at k = {k} ({datasets})"),
                errors,
            );
        }

        let mut described = self.table(
            "Renamed categories: definition only, examples only, both (8 harmful examples, no keep texts)",
            &metric_header(&["dataset", "description"]),
        );
        for (t, task) in self.tasks.iter().enumerate() {
            for (description, k, with_definition) in [
                ("definition only", 0, true),
                ("8 examples", 8, false),
                ("8 examples and the definition", 8, true),
            ] {
                let metrics = self.renamed_mean(t, k, false, with_definition)?;
                described.row(labelled(&[task.dataset, description], &metrics));
            }
        }
        out.push_str(&described.to_string());

        let mut multi = self.table(
            format!("Renamed categories together: one binary policy with the three renamed categories, harmful vs benign over the union of the test sets, mean of {SEEDS} seeds"),
            &metric_header(&["method", "k harmful examples and keep texts per category"]),
        )
        .with_note("The linear probe fits each category on the embeddings alone, uncalibrated, with the same texts: the scale of what the embeddings tell apart.");
        for method in [Method::Tamis, Method::EmbeddingProbe] {
            // Under the new names no prior applies: `Method::Tamis`'s name says "priors".
            let label = match method {
                Method::Tamis => "tamis (renamed: examples, no prior)",
                other => other.name(),
            };
            for k in [8, 32] {
                let runs = (0..SEEDS)
                    .map(|seed| self.multi_task_run(k, false, seed, method, true))
                    .collect::<Result<Vec<_>, _>>()?;
                multi.row(labelled(&[label, &k.to_string()], &MeanMetrics::of(&runs)));
            }
        }
        out.push_str(&multi.to_string());
        Ok(())
    }

    /// One multi-task run: a binary policy with every task's category (under its new name
    /// when `renamed`), judged on the union of the test sets.
    fn multi_task_run(
        &self,
        k: usize,
        definitions: bool,
        seed: u64,
        method: Method,
        renamed: bool,
    ) -> Result<(Counts, Option<ScoreQuality>), EvalError> {
        let mut categories = Vec::new();
        let mut keep = Vec::new();
        for (t, task) in self.tasks.iter().enumerate() {
            let (harmful, benign) = self.draw(t, k, seed);
            let definition = definitions.then_some(task.definition);
            let name = if renamed { task.renamed } else { task.category };
            categories.push(category(name, harmful, definition));
            keep.extend(benign);
        }
        let all_test: Vec<&Labeled> = self.tasks.iter().flat_map(|t| &t.test).collect();
        let test_texts: Vec<&str> = all_test.iter().map(|l| l.text.as_str()).collect();
        let mut classifier = self.classifier(policy(Mode::Binary, categories, keep), method)?;
        let verdicts = self.verdicts(&mut classifier, &test_texts)?;
        let mut counts = Counts::default();
        let mut scored = Vec::new();
        for (verdict, labeled) in verdicts.iter().zip(&all_test) {
            counts.add(verdict.harmful, labeled.harmful);
            let top = verdict.scores.iter().map(|s| s.score).fold(0.0, f32::max);
            scored.push((top, labeled.harmful));
        }
        Ok((counts, Some(ScoreQuality::of(&scored))))
    }

    /// PHCD's multi-task setting: one binary policy for all three categories, judged on the
    /// union of the test sets (harmful: spam, toxic or negative).
    pub fn multi_task(&self, out: &mut String) -> Result<(), EvalError> {
        let mut table = self.table(
            format!("Multi-task binary: harmful vs benign over the union of the test sets, mean of {SEEDS} seeds"),
            &metric_header(&["method", "k", "definitions"]),
        );
        for method in [Method::Tamis, Method::BackgroundOnly, Method::NoBuiltIn] {
            for (k, definitions) in [(8, false), (32, false), (32, true), (128, false)] {
                let runs = (0..SEEDS)
                    .map(|seed| self.multi_task_run(k, definitions, seed, method, false))
                    .collect::<Result<Vec<_>, _>>()?;
                table.row(labelled(
                    &[method.name(), &k.to_string(), yes_no(definitions)],
                    &MeanMetrics::of(&runs),
                ));
            }
        }
        out.push_str(&table.to_string());
        Ok(())
    }

    /// Categories from definitions alone, no examples.
    pub fn definitions_only(&self, out: &mut String) -> Result<(), EvalError> {
        let mut table = self.table(
            "Definition only (no examples, no keep texts)",
            &metric_header(&["method", "dataset"]),
        );
        for method in [Method::Tamis, Method::BackgroundOnly] {
            for (t, task) in self.tasks.iter().enumerate() {
                let policy = policy(
                    Mode::Binary,
                    vec![category(task.category, Vec::new(), Some(task.definition))],
                    Vec::new(),
                );
                let metrics = MeanMetrics::of(&[self.binary_policy_run(t, policy, method)?]);
                table.row(labelled(&[method.name(), task.dataset], &metrics));
            }
        }
        out.push_str(&table.to_string());
        Ok(())
    }

    /// The policy PHCD's personalization starts from: `blocked` categories with 32 examples
    /// each and 32 benign keep texts from each of their datasets.
    /// (Under their new names when `renamed`.)
    fn base_policy(
        &self,
        blocked: &[usize],
        seed: u64,
        renamed: bool,
    ) -> (Vec<Category>, Vec<String>) {
        let mut categories = Vec::new();
        let mut keep = Vec::new();
        for &t in blocked {
            let (harmful, benign) = self.draw(t, 32, seed);
            let task = &self.tasks[t];
            let name = if renamed { task.renamed } else { task.category };
            categories.push(category(name, harmful, None));
            keep.extend(benign);
        }
        (categories, keep)
    }

    /// Blocking a new category, unblocking one, and extending with definitions.
    pub fn personalization(&self, out: &mut String) -> Result<(), EvalError> {
        let negative = self
            .tasks
            .iter()
            .position(|t| t.category == "negative")
            .ok_or(EvalError::MissingTask("negative"))?;
        let others: Vec<usize> = (0..self.tasks.len()).filter(|&t| t != negative).collect();
        let negative_texts = of_class(&self.tasks[negative].test, true);
        let benign_texts: Vec<&str> = self
            .tasks
            .iter()
            .flat_map(|t| of_class(&t.test, false))
            .collect();
        let share_harmful = |classifier: &mut Classifier,
                             texts: &[&str]|
         -> Result<f64, EvalError> {
            let verdicts = self.verdicts(classifier, texts)?;
            Ok(verdicts.iter().filter(|v| v.harmful).count() as f64 / texts.len().max(1) as f64)
        };
        let mut block = self.table(
            format!("Personalization: block \"negative\" on top of a policy blocking spam and toxic (32 examples each), mean of {SEEDS} seeds"),
            &["category name", "examples", "definition", "its own keep texts", "recall on negative", "FPR on benign"],
        )
        .with_note("Recall: SST-2 negative test texts now hidden. FPR: benign test texts of all three datasets hidden (three in four are SST-2's positive reviews). `negative` is a standard category (its prior applies); `gloomy` is the same category under a new name, so only the examples or the definition describe it. The policy's keep texts are SMS and comments: against them, negative film reviews differ from the rest by their topic as much as by their tone. \"Its own keep texts\": positive reviews added as the new category's keep texts, the contrast that tells tone from topic.");
        let variants: Vec<(&str, usize, bool, usize)> = [("negative", true), ("gloomy", false)]
            .iter()
            .flat_map(|&(name, _)| {
                [0, 1, 2, 4, 8]
                    .into_iter()
                    .map(move |n| (name, n, false, 0))
                    .chain([(name, 0, true, 0), (name, 8, true, 0), (name, 8, false, 8)])
            })
            .collect();
        for (name, n, with_definition, own_keep) in variants {
            let (mut recall, mut fpr) = (0.0, 0.0);
            for seed in 0..SEEDS {
                let (categories, keep) = self.base_policy(&others, seed, false);
                let mut classifier =
                    self.classifier(policy(Mode::Binary, categories, keep), Method::Tamis)?;
                if n > 0 || with_definition {
                    let (examples, positive_reviews) = self.draw(negative, n, seed + 100);
                    let definition = with_definition.then_some(self.tasks[negative].definition);
                    classifier.edit(|p| {
                        p.add_category(category(name, examples, definition))?;
                        positive_reviews
                            .iter()
                            .take(own_keep)
                            .try_for_each(|text| p.add_keep(Some(name), text))
                    })?;
                }
                recall += share_harmful(&mut classifier, &negative_texts)?;
                fpr += share_harmful(&mut classifier, &benign_texts)?;
            }
            let shown_name = if n == 0 && !with_definition {
                "(not added)"
            } else {
                name
            };
            block.row([
                shown_name.to_string(),
                n.to_string(),
                yes_no(with_definition).to_string(),
                own_keep.to_string(),
                figure(recall / SEEDS as f64),
                figure(fpr / SEEDS as f64),
            ]);
        }
        let ceiling_fpr = (0..SEEDS)
            .map(|seed| {
                self.gloomy_ceiling_fpr(negative, &others, seed, &negative_texts, &benign_texts)
            })
            .sum::<Result<f64, EvalError>>()?;
        block.row([
            format!(
                "(what the embeddings tell apart: `gloomy` alone as a linear probe on \
                 {CEILING_SHOTS} negative reviews against the policy's counter-examples and \
                 {CEILING_SHOTS} positive reviews, threshold read from the test labels)"
            ),
            CEILING_SHOTS.to_string(),
            yes_no(false).to_string(),
            CEILING_SHOTS.to_string(),
            figure(CEILING_RECALL),
            figure(ceiling_fpr / SEEDS as f64),
        ]);
        out.push_str(&block.to_string());
        let mut unblock = self.table(
            format!("Personalization: unblock the negative-sentiment category in a policy blocking all three (32 examples and 32 keep texts each), mean of {SEEDS} seeds"),
            &["names", "state", "negative texts passing", "spam caught", "toxic caught", "benign hidden"],
        )
        .with_note("Standard names: `spam`, `toxic`, `negative` (their priors apply); renamed: `junk`, `insults`, `gloomy` (no prior applies).");
        let all: Vec<usize> = (0..self.tasks.len()).collect();
        for renamed in [false, true] {
            let unblocked = if renamed {
                self.tasks[negative].renamed
            } else {
                self.tasks[negative].category
            };
            let mut rows = [[0.0; 4]; 2];
            for seed in 0..SEEDS {
                let (categories, keep) = self.base_policy(&all, seed, renamed);
                let mut classifier =
                    self.classifier(policy(Mode::Binary, categories, keep), Method::Tamis)?;
                for row in &mut rows {
                    row[0] += 1.0 - share_harmful(&mut classifier, &negative_texts)?;
                    for (cell, &t) in row[1..3].iter_mut().zip(&others) {
                        *cell +=
                            share_harmful(&mut classifier, &of_class(&self.tasks[t].test, true))?;
                    }
                    row[3] += share_harmful(&mut classifier, &benign_texts)?;
                    classifier.edit(|p| p.unblock(unblocked))?;
                }
            }
            let names = if renamed { "renamed" } else { "standard" };
            let states = [
                "all three blocked".to_string(),
                format!("`{unblocked}` unblocked"),
            ];
            for (state, row) in states.into_iter().zip(rows) {
                unblock.row(
                    [names.to_string(), state]
                        .into_iter()
                        .chain(row.iter().map(|v| figure(v / SEEDS as f64))),
                );
            }
        }
        out.push_str(&unblock.to_string());
        Ok(())
    }

    /// The benign texts the new category hides at [`CEILING_RECALL`] of the negative reviews
    /// when it is a linear probe on [`CEILING_SHOTS`] negative reviews against the policy's
    /// counter-examples and as many positive reviews (the contrast that tells tone from
    /// topic), with the threshold read from the test labels: no calibration of a category from
    /// that many examples does better on these texts. (The policy's other categories, which
    /// hide some benign texts too, are left out: a bound, not a policy's figure.)
    fn gloomy_ceiling_fpr(
        &self,
        negative: usize,
        others: &[usize],
        seed: u64,
        negative_texts: &[&str],
        benign_texts: &[&str],
    ) -> Result<f64, EvalError> {
        let (mut categories, keep) = self.base_policy(others, seed, false);
        let (examples, positive_reviews) = self.draw(negative, CEILING_SHOTS, seed + 100);
        let name = self.tasks[negative].renamed;
        let mut added = category(name, examples, None);
        added.keep = positive_reviews;
        categories.push(added);
        let mut classifier = self.classifier(
            policy(Mode::Binary, categories, keep),
            Method::EmbeddingProbe,
        )?;
        let mut scores = |texts: &[&str]| -> Result<Vec<f32>, EvalError> {
            Ok(self
                .verdicts(&mut classifier, texts)?
                .iter()
                .flat_map(|v| v.scores.iter().filter(|s| s.category == name))
                .map(|s| s.score)
                .collect())
        };
        let mut caught = scores(negative_texts)?;
        caught.sort_by(|a, b| b.total_cmp(a));
        let at = ((caught.len() as f64 * CEILING_RECALL).ceil() as usize).clamp(1, caught.len());
        let threshold = caught[at - 1];
        let benign = scores(benign_texts)?;
        let hidden = benign.iter().filter(|&&s| s >= threshold).count();
        Ok(hidden as f64 / benign.len().max(1) as f64)
    }

    /// PHCD's third scenario for a user's own category: one post (a harmful test text) is
    /// the only example of a renamed category, with no keep texts; the share of its variants
    /// caught (the obfuscations of [`Perturbation`] and near-paraphrases: two words swapped,
    /// shortened, upper and lower case) and of the dataset's benign test texts hidden.
    pub fn single_post(&self, out: &mut String) -> Result<(), EvalError> {
        let mut table = self.table(
            format!("A single post and its variants: a renamed category from one post, mean of {SEEDS} posts"),
            &["dataset", "variants caught", "benign hidden"],
        )
        .with_note(format!(
            "Variants: {}, two words swapped, shortened to its first two thirds, upper case, lower case.",
            Perturbation::ALL.map(Perturbation::name).join(", ")
        ));
        for (t, task) in self.tasks.iter().enumerate() {
            let harmful = of_class(&task.test, true);
            let benign = of_class(&task.test, false);
            let (mut caught, mut hidden) = (0.0, 0.0);
            for seed in 0..SEEDS {
                let mut draws = Draws::new(seed * 7_919 + t as u64);
                let Some(post) = draws.sample(&harmful, 1).pop() else {
                    continue;
                };
                let variants = variants_of(&post);
                let variant_refs: Vec<&str> = variants.iter().map(String::as_str).collect();
                let policy = policy(
                    Mode::Binary,
                    vec![category(task.renamed, vec![post], None)],
                    Vec::new(),
                );
                let mut classifier = self.classifier(policy, Method::Tamis)?;
                let share = |verdicts: Vec<Verdict>| {
                    verdicts.iter().filter(|v| v.harmful).count() as f64
                        / verdicts.len().max(1) as f64
                };
                caught += share(self.verdicts(&mut classifier, &variant_refs)?);
                hidden += share(self.verdicts(&mut classifier, &benign)?);
            }
            table.row([
                task.dataset.to_string(),
                figure(caught / SEEDS as f64),
                figure(hidden / SEEDS as f64),
            ]);
        }
        out.push_str(&table.to_string());
        Ok(())
    }

    /// F1 on obfuscated copies of the first test texts, with and without normalization.
    pub fn obfuscation(&self, out: &mut String) -> Result<(), EvalError> {
        let header: Vec<&str> = std::iter::once("perturbation")
            .chain(self.tasks.iter().map(|t| t.dataset))
            .collect();
        let mut table = self.table(
            format!("Obfuscation: F1 at k = 32 (seed 0) on the first {OBFUSCATION_TEXTS} test texts of each dataset, with tamis's normalization / without"),
            &header,
        );
        let mut rows: Vec<(String, Vec<String>)> = Vec::new();
        let perturbations: Vec<Option<Perturbation>> = std::iter::once(None)
            .chain(Perturbation::ALL.map(Some))
            .collect();
        for perturbation in &perturbations {
            let mut cells = Vec::new();
            for (t, task) in self.tasks.iter().enumerate() {
                let subset = &task.test[..task.test.len().min(OBFUSCATION_TEXTS)];
                let copies: Vec<String> = subset
                    .iter()
                    .map(|l| perturbation.map_or_else(|| l.text.clone(), |p| p.apply(&l.text)))
                    .collect();
                let copies: Vec<&str> = copies.iter().map(String::as_str).collect();
                let mut f1s = Vec::new();
                for normalize in [true, false] {
                    let (harmful, benign) = self.draw(t, 32, 0);
                    let policy = policy(
                        Mode::Binary,
                        vec![category(task.category, harmful, None)],
                        benign,
                    );
                    let options = ClassifierOptions {
                        normalize,
                        ..ClassifierOptions::default()
                    };
                    let mut classifier =
                        Classifier::new(policy, Some(self.priors.clone()), options)?;
                    let verdicts = self.verdicts(&mut classifier, &copies)?;
                    let mut counts = Counts::default();
                    for (verdict, labeled) in verdicts.iter().zip(subset) {
                        counts.add(verdict.harmful, labeled.harmful);
                    }
                    f1s.push(figure(counts.f1()));
                }
                cells.push(f1s.join(" / "));
            }
            let name = perturbation.map_or("none (clean)", |p| p.name());
            rows.push((name.to_string(), cells));
        }
        for (name, cells) in rows {
            table.row(std::iter::once(name).chain(cells));
        }
        out.push_str(&table.to_string());
        Ok(())
    }

    /// The Mastodon posts, multi-label and multi-class, with a policy of 32 examples per
    /// category drawn from the seed datasets' training splits.
    pub fn mastodon(&self, data_root: &Path, out: &mut String) -> Result<(), EvalError> {
        let posts: Vec<Post> = read_mastodon(data_root)?;
        let texts: Vec<&str> = posts.iter().map(|p| p.text.as_str()).collect();
        let all: Vec<usize> = (0..self.tasks.len()).collect();
        let mut table = self.table(
            format!("Mastodon ({} posts)", posts.len()),
            &metric_header(&["mode", "category", "support"]),
        )
        .with_note("Caveat: its labels come from the source repository's LLM predictions, not from human annotators.");
        let mut weighted = String::new();
        for mode in [Mode::Multilabel, Mode::Multiclass] {
            let (categories, keep) = self.base_policy(&all, 0, false);
            let mut classifier = self.classifier(policy(mode, categories, keep), Method::Tamis)?;
            let verdicts = self.verdicts(&mut classifier, &texts)?;
            let mut weighted_f1 = 0.0;
            let mut total_support = 0;
            for task in self.tasks {
                let name = task.category;
                let gold = |post: &Post| match mode {
                    Mode::Multiclass => post.label == name,
                    _ => post.labels.iter().any(|l| l == name),
                };
                let mut counts = Counts::default();
                for (verdict, post) in verdicts.iter().zip(&posts) {
                    counts.add(verdict.labels.iter().any(|l| l == name), gold(post));
                }
                let support = posts.iter().filter(|p| gold(p)).count();
                weighted_f1 += counts.f1() * support as f64;
                total_support += support;
                let metrics = MeanMetrics::of(&[(counts, None)]);
                table.row(labelled(
                    &[&format!("{mode:?}"), name, &support.to_string()],
                    &metrics,
                ));
            }
            let mut harmful = Counts::default();
            for (verdict, post) in verdicts.iter().zip(&posts) {
                harmful.add(verdict.harmful, post.label != "benign");
            }
            table.row(labelled(
                &[
                    &format!("{mode:?}"),
                    "any (harmful vs benign)",
                    &posts
                        .iter()
                        .filter(|p| p.label != "benign")
                        .count()
                        .to_string(),
                ],
                &MeanMetrics::of(&[(harmful, None)]),
            ));
            if mode == Mode::Multiclass {
                weighted = format!(
                    "Multi-class weighted F1 over the harmful classes: {}\n\n",
                    figure(weighted_f1 / total_support.max(1) as f64)
                );
            }
        }
        out.push_str(&table.to_string());
        out.push_str(&weighted);
        Ok(())
    }
}

/// The variants of a post a user would meet: its obfuscations and near-paraphrases.
fn variants_of(post: &str) -> Vec<String> {
    let words: Vec<&str> = post.split_whitespace().collect();
    let mut swapped = words.clone();
    if swapped.len() >= 2 {
        swapped.swap(0, 1);
    }
    let shortened = &words[..(words.len() * 2).div_ceil(3).max(1).min(words.len())];
    Perturbation::ALL
        .iter()
        .map(|p| p.apply(post))
        .chain([
            swapped.join(" "),
            shortened.join(" "),
            post.to_uppercase(),
            post.to_lowercase(),
        ])
        .collect()
}

/// A metrics table's header: the row labels, then [`MeanMetrics::COLUMNS`].
pub(crate) fn metric_header<'h>(labels: &[&'h str]) -> Vec<&'h str> {
    labels.iter().copied().chain(MeanMetrics::COLUMNS).collect()
}

/// A metrics row: its labels, then the metrics' cells.
pub(crate) fn labelled(labels: &[&str], metrics: &MeanMetrics) -> Vec<String> {
    labels
        .iter()
        .map(|l| l.to_string())
        .chain(metrics.cells())
        .collect()
}

fn yes_no(flag: bool) -> &'static str {
    if flag {
        "yes"
    } else {
        "no"
    }
}

/// Cosine to the harmful centroid minus cosine to the benign one.
fn prototype_score(text: &[f32], positives: &[Vec<f32>], negatives: &[Vec<f32>]) -> f32 {
    let centroid = |vectors: &[Vec<f32>]| {
        let mut sum = vec![0.0; text.len()];
        for v in vectors {
            sum.iter_mut().zip(v).for_each(|(s, x)| *s += x);
        }
        sum
    };
    cosine(text, &centroid(positives)) - cosine(text, &centroid(negatives))
}

/// Similarity-weighted vote of the five nearest examples (+ harmful, - benign).
fn neighbour_vote(text: &[f32], positives: &[Vec<f32>], negatives: &[Vec<f32>]) -> f32 {
    let mut scored: Vec<(f32, f32)> = positives
        .iter()
        .map(|v| (cosine(text, v), 1.0))
        .chain(negatives.iter().map(|v| (cosine(text, v), -1.0)))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.iter().take(5).map(|(s, sign)| s * sign).sum()
}
