//! German: GermEval 2018's offensive-language tweets (`<data root>/harmful/germeval/train.tsv`,
//! CC BY 4.0; tab separated, no header: text, coarse label `OFFENSE` or `OTHER`, fine label),
//! split once into a fixed, seeded, stratified held-out test third and the remaining file,
//! from which the demonstrations are drawn.

use std::path::Path;
use std::sync::Arc;

use tamis_core::classify::{Priors, MAX_POLICY_TEXTS};

use crate::classify::{labelled, metric_header, Evaluation, Headline, Method, SEEDS};
use crate::harmful::{Labeled, Task, HARMFUL_DIR};
use crate::report::{Counts, Draws, MeanMetrics};
use crate::table::figure;
use crate::{EvalEncoder, EvalError};

/// The GermEval file under the harmful-content folder.
pub const GERMEVAL_FILE: &str = "germeval/train.tsv";
/// The seed of the held-out split: fixed, so every run and every model meets the same test
/// tweets.
pub const SPLIT_SEED: u64 = 2018;
/// One tweet in this many (of each class, rounded up) is held out for the test set.
pub const TEST_ONE_IN: usize = 3;

/// The coarse label of an offensive tweet; the only other one is `OTHER`.
const OFFENSE: &str = "OFFENSE";
const OTHER: &str = "OTHER";

/// The tweets of the GermEval file, in file order; `harmful` is the `OFFENSE` label.
pub fn read_germeval(data_root: &Path) -> Result<Vec<Labeled>, EvalError> {
    let path = data_root.join(HARMFUL_DIR).join(GERMEVAL_FILE);
    let content = std::fs::read_to_string(&path).map_err(|source| EvalError::Read {
        path: path.clone(),
        source,
    })?;
    content
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            let fail = |reason: String| EvalError::Data {
                path: path.clone(),
                reason: format!("line {}: {reason}", index + 1),
            };
            let fields: Vec<&str> = line.split('\t').collect();
            let [text, coarse, _fine] = fields[..] else {
                return Err(fail(format!(
                    "{} tab-separated fields where text, coarse and fine label are expected",
                    fields.len()
                )));
            };
            let harmful = match coarse {
                OFFENSE => true,
                OTHER => false,
                other => {
                    return Err(fail(format!(
                        "coarse label `{other}` is neither {OFFENSE} nor {OTHER}"
                    )))
                }
            };
            Ok(Labeled {
                text: text.trim().to_string(),
                harmful,
            })
        })
        .collect()
}

/// The tweets split into the remaining file (demonstrations) and the held-out test set.
pub struct HeldOut {
    pub train: Vec<Labeled>,
    pub test: Vec<Labeled>,
}

/// The fixed split: within each class, a [`SPLIT_SEED`]ed shuffle sends the first third
/// (rounded up) to the test set, so both sets keep the file's share of offensive tweets. Each
/// set stays in file order, so `--test-limit`'s evenly spread slice stays stratified too.
pub fn held_out_split(tweets: &[Labeled]) -> HeldOut {
    let mut draws = Draws::new(SPLIT_SEED);
    let mut in_test = vec![false; tweets.len()];
    for class in [true, false] {
        let mut indices: Vec<usize> = (0..tweets.len())
            .filter(|&i| tweets[i].harmful == class)
            .collect();
        let held_out = indices.len().div_ceil(TEST_ONE_IN);
        for i in 0..held_out {
            let j = i + draws.below(indices.len() - i);
            indices.swap(i, j);
            in_test[indices[i]] = true;
        }
    }
    let (test, train): (Vec<_>, Vec<_>) = tweets
        .iter()
        .zip(&in_test)
        .partition(|(_, &is_test)| is_test);
    let labeled =
        |pairs: Vec<(&Labeled, &bool)>| pairs.into_iter().map(|(l, _)| l.clone()).collect();
    HeldOut {
        train: labeled(train),
        test: labeled(test),
    }
}

/// The German tasks on the held-out test set: German demonstrations from the remaining file
/// ([`GERMAN`]), and the English toxicity task's (TextDetox's) demonstrations applied to the
/// German test tweets ([`ENGLISH_ON_GERMAN`]).
pub struct GermanTasks {
    tasks: [Task; 2],
}

/// The German task's position in [`GermanTasks`]: the category renamed `offensive` (under the
/// standard name `toxic`, its English prior applies).
const GERMAN: usize = 0;
/// The English task on the German test tweets.
const ENGLISH_ON_GERMAN: usize = 1;

/// Examples per class in the German section: a few, more, and every text of the remaining
/// file ([`WHOLE_FILE`]).
pub const GERMAN_SHOTS: [usize; 3] = [8, 32, WHOLE_FILE];

/// Examples per class that take every training text of each class: the remaining GermEval
/// file (3,339 tweets) and TextDetox's training file (3,500 texts) both fit in one policy.
const WHOLE_FILE: usize = MAX_POLICY_TEXTS;

/// A column of the German tables.
fn shots_label(k: usize) -> String {
    if k == WHOLE_FILE {
        "whole file".to_string()
    } else {
        format!("k={k}")
    }
}

impl GermanTasks {
    /// The two tasks from the data root's GermEval file and the English toxicity task.
    pub fn read(data_root: &Path, english: &Task) -> Result<Self, EvalError> {
        let HeldOut { train, test } = held_out_split(&read_germeval(data_root)?);
        let german = Task {
            category: "toxic",
            dataset: "GermEval 2018",
            renamed: "offensive",
            definition: "Beleidigende Sprache: Beschimpfungen, Schmähungen, Obszönitäten und \
                         herabwürdigende Angriffe auf Personen oder Gruppen.",
            train,
            test: test.clone(),
        };
        let english_on_german = Task {
            train: english.train.clone(),
            test,
            ..*english
        };
        Ok(GermanTasks {
            tasks: [german, english_on_german],
        })
    }

    /// Keeps `limit` test tweets (the same ones in both tasks), as [`Task::limit_test`].
    pub fn limit_test(&mut self, limit: usize) {
        self.tasks
            .iter_mut()
            .for_each(|task| task.limit_test(limit));
    }

    /// The German section's evaluation with `encoder` and `priors` (`model`: its name in the
    /// tables).
    pub fn evaluation<'a, E: EvalEncoder>(
        &'a self,
        encoder: &'a E,
        priors: Arc<Priors>,
        model: &str,
    ) -> Result<GermanEvaluation<'a, E>, EvalError> {
        Ok(GermanEvaluation(Evaluation::new(
            encoder,
            priors,
            &self.tasks,
            model,
        )?))
    }
}

/// The German section of `tamis eval classify`.
pub struct GermanEvaluation<'a, E>(Evaluation<'a, E>);

impl<E: EvalEncoder> GermanEvaluation<'_, E> {
    /// F1 of the offensive class on the held-out test tweets with German examples (a user's
    /// own category `offensive`, the linear probe, the standard `toxic`), with English
    /// examples, and answering "offensive" always; every metric at k = 32.
    pub fn section(&self, out: &mut String) -> Result<(), EvalError> {
        let evaluation = &self.0;
        let german = &evaluation.tasks[GERMAN];
        let count = |split: &[Labeled], harmful: bool| {
            split.iter().filter(|l| l.harmful == harmful).count()
        };
        let shots = GERMAN_SHOTS.map(shots_label);
        let header: Vec<&str> = std::iter::once("setting")
            .chain(shots.iter().map(String::as_str))
            .collect();
        let mut f1_table = evaluation
            .table(
                format!("German: F1 of the offensive class on GermEval 2018's held-out tweets, k examples per class, mean of {SEEDS} seeds"),
                &header,
            )
            .with_note(format!(
                "Test: {} held-out tweets ({} offensive): one in {TEST_ONE_IN} of each class of \
                 the file, by a fixed draw (seed {SPLIT_SEED}); examples come from the remaining \
                 {} offensive and {} other tweets. `offensive`: a user's own category (no prior \
                 applies) with k offensive tweets and k other tweets as keep texts; `toxic`: the \
                 standard name, whose English prior applies. English: k toxic and k non-toxic \
                 TextDetox training texts. Whole file: every remaining tweet ({} texts), and \
                 for English every TextDetox training text ({}).",
                german.test.len(),
                count(&german.test, true),
                count(&german.train, true),
                count(&german.train, false),
                german.train.len(),
                evaluation.tasks[ENGLISH_ON_GERMAN].train.len(),
            ));
        let mut at_32 = evaluation.table(
            format!("German: every metric at k = 32, mean of {SEEDS} seeds"),
            &metric_header(&["setting"]),
        );
        for setting in Setting::ALL {
            let name = setting.name();
            let mut f1s = Vec::new();
            for k in GERMAN_SHOTS {
                let metrics = setting.run(evaluation, k)?;
                eprintln!("german / {name} / k={k}");
                f1s.push(figure(metrics.f1));
                if k == 32 {
                    at_32.row(labelled(&[name], &metrics));
                }
            }
            evaluation.headline(
                format!(
                    "German: {name}, F1 at {}",
                    GERMAN_SHOTS.map(shots_label).join(" / ")
                ),
                &f1s,
            );
            f1_table.row(std::iter::once(name.to_string()).chain(f1s));
        }
        let always = always_offensive(&german.test);
        f1_table.row(
            std::iter::once("always \"offensive\"".to_string())
                .chain(GERMAN_SHOTS.map(|_| figure(always))),
        );
        out.push_str(&f1_table.to_string());
        out.push_str(&at_32.to_string());
        Ok(())
    }

    /// The headline figures of the section, once it ran.
    pub fn headlines(&self) -> Vec<Headline> {
        self.0.headlines()
    }
}

/// The ways the German section classifies the test tweets.
#[derive(Clone, Copy)]
enum Setting {
    /// A user's own category with German examples and keep texts.
    Offensive,
    /// The linear probe on the German examples' embeddings.
    Probe,
    /// The standard category with German examples: its English prior applies.
    ToxicFromGerman,
    /// The standard category with English examples, as a user who adds no German.
    ToxicFromEnglish,
    /// A user's own category with English examples.
    InsultsFromEnglish,
}

impl Setting {
    const ALL: [Setting; 5] = [
        Setting::Offensive,
        Setting::Probe,
        Setting::ToxicFromGerman,
        Setting::ToxicFromEnglish,
        Setting::InsultsFromEnglish,
    ];

    fn name(self) -> &'static str {
        match self {
            Setting::Offensive => "`offensive`, German examples and keep texts",
            Setting::Probe => "linear probe on embeddings, German texts",
            Setting::ToxicFromGerman => "`toxic` (prior), German examples and keep texts",
            Setting::ToxicFromEnglish => "`toxic` (prior), English examples and keep texts",
            Setting::InsultsFromEnglish => "`insults` (no prior), English examples and keep texts",
        }
    }

    /// Mean metrics over the seeds with `k` examples per class.
    fn run<E: EvalEncoder>(
        self,
        evaluation: &Evaluation<'_, E>,
        k: usize,
    ) -> Result<MeanMetrics, EvalError> {
        match self {
            Setting::Offensive => evaluation.renamed_mean(GERMAN, k, true, false),
            Setting::Probe => evaluation.binary_mean(GERMAN, Method::EmbeddingProbe, k),
            Setting::ToxicFromGerman => evaluation.binary_mean(GERMAN, Method::Tamis, k),
            Setting::ToxicFromEnglish => {
                evaluation.binary_mean(ENGLISH_ON_GERMAN, Method::Tamis, k)
            }
            Setting::InsultsFromEnglish => {
                evaluation.renamed_mean(ENGLISH_ON_GERMAN, k, true, false)
            }
        }
    }
}

/// F1 of answering "offensive" for every tweet.
fn always_offensive(test: &[Labeled]) -> f64 {
    let mut counts = Counts::default();
    test.iter().for_each(|l| counts.add(true, l.harmful));
    counts.f1()
}
