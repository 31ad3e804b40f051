//! The personalized classifier on the real model, its built-in priors and a slice of the
//! seed data in `../shared/data/harmful`: decision modes, actions, reasons, the feature
//! cache, and bad input.

use std::cell::Cell;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use tamis_core::classify::{
    Action, Category, Classifier, ClassifierOptions, ClassifyError, Mode, Policy, Priors,
    PriorsError, Reason, MAX_TEXT_BYTES,
};
use tamis_core::{Embedding, Encoder};
use tamis_model::{built_in_priors, ModelBundle, ModelError, TractEncoder};

fn bundle() -> &'static ModelBundle {
    ModelBundle::default_for_tests()
}

fn encoder() -> &'static TractEncoder {
    static ENCODER: OnceLock<TractEncoder> = OnceLock::new();
    ENCODER.get_or_init(|| TractEncoder::new(bundle()).expect("the default model loads"))
}

fn priors() -> Arc<Priors> {
    static PRIORS: OnceLock<Arc<Priors>> = OnceLock::new();
    PRIORS
        .get_or_init(|| {
            Arc::new(
                built_in_priors(bundle())
                    .expect("built-in priors load")
                    .expect("the default model has built-in priors"),
            )
        })
        .clone()
}

/// Counts the texts it embeds, to see what the classifier's cache saves.
struct CountingEncoder {
    embedded: Cell<usize>,
}

impl Encoder for CountingEncoder {
    type Error = ModelError;
    fn dimension(&self) -> usize {
        encoder().dimension()
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, ModelError> {
        self.embedded.set(self.embedded.get() + texts.len());
        encoder().embed(texts)
    }
}

fn policy(json: &str) -> Policy {
    Policy::from_json(json).unwrap_or_else(|e| panic!("{e}"))
}

fn classifier(json: &str) -> Classifier {
    Classifier::new(policy(json), Some(priors()), ClassifierOptions::default()).unwrap()
}

const THREE_CATEGORIES: &str = r#"{"version": 1, "mode": "multilabel", "categories": [
    {"name": "spam", "action": "hide", "examples": [
        "WINNER!! You have won a £1000 cash prize. Call 09061701461 to claim now",
        "Free entry in a weekly competition, text WIN to 80086 to receive your prize"]},
    {"name": "toxic", "action": "blur", "examples": [
        "shut up you worthless idiot", "you are a pathetic moron and everyone hates you"]},
    {"name": "cooking", "action": "warn", "blocked": false,
     "definition": "Recipes, ingredients and how to cook a meal",
     "examples": ["Fry the onions in butter until golden, then add the garlic"]}
]}"#;

#[test]
fn built_in_priors_belong_to_the_default_model() {
    let priors = priors();
    for name in ["spam", "toxic", "negative"] {
        assert!(priors.category(name).is_some(), "{name}");
    }
    assert!(!priors.background.is_empty());
    assert!(matches!(
        priors.check_model("0".repeat(64).as_str()),
        Err(PriorsError::ModelMismatch { .. })
    ));
}

#[test]
fn multilabel_verdicts_with_actions_and_reasons() {
    let mut classifier = classifier(THREE_CATEGORIES);
    let verdicts = classifier
        .classify(
            encoder(),
            &[
                "Congratulations! You've won a free cash prize, call 09066364589 now to claim",
                "you stupid idiot, nobody wants you here",
                "Simmer the tomatoes with basil and olive oil for twenty minutes",
                "See you at the library after lunch?",
            ],
        )
        .unwrap();
    assert_eq!(verdicts[0].labels, ["spam"], "{:?}", verdicts[0]);
    assert_eq!(verdicts[0].action, Some(Action::Hide));
    assert!(matches!(
        &verdicts[0].reason,
        Some(Reason::Example { category, text, similarity })
            if category == "spam" && text.starts_with("WINNER") && *similarity > 0.3
    ));
    assert_eq!(verdicts[1].labels, ["toxic"], "{:?}", verdicts[1]);
    assert_eq!(verdicts[1].action, Some(Action::Blur));
    // Unblocked: scored and matched, but it never acts.
    assert_eq!(verdicts[2].labels, ["cooking"], "{:?}", verdicts[2]);
    assert!(!verdicts[2].harmful);
    assert_eq!(verdicts[2].action, None);
    assert!(
        verdicts[3].labels.is_empty() && !verdicts[3].harmful,
        "{:?}",
        verdicts[3]
    );
    for verdict in &verdicts {
        assert_eq!(verdict.scores.len(), 3);
        assert!(verdict
            .scores
            .iter()
            .all(|s| (0.0..=1.0).contains(&s.score)));
    }
}

#[test]
fn strictest_action_wins_and_modes_decide_differently() {
    let text = "you worthless idiot, text WIN to 80086 to claim your free prize";
    let mut multilabel = classifier(THREE_CATEGORIES);
    let verdict = &multilabel.classify(encoder(), &[text]).unwrap()[0];
    assert!(verdict.labels.len() == 2, "{verdict:?}");
    assert_eq!(
        verdict.action,
        Some(Action::Hide),
        "hide is stricter than blur"
    );

    let mut multiclass = classifier(&THREE_CATEGORIES.replace("multilabel", "multiclass"));
    let verdict = &multiclass.classify(encoder(), &[text]).unwrap()[0];
    assert_eq!(verdict.labels.len(), 1);
    let best = verdict
        .scores
        .iter()
        .max_by(|a, b| a.score.total_cmp(&b.score))
        .unwrap();
    assert_eq!(verdict.labels[0], best.category);

    let mut binary = classifier(&THREE_CATEGORIES.replace("multilabel", "binary"));
    let verdicts = binary
        .classify(encoder(), &[text, "lovely weather for a walk"])
        .unwrap();
    assert!(verdicts[0].harmful && !verdicts[1].harmful);
}

#[test]
fn a_definition_alone_can_decide() {
    let mut classifier = classifier(
        r#"{"version": 1, "mode": "binary", "categories": [{"name": "gardening",
            "definition": "Planting flowers, vegetables and trees in a garden", "action": "warn"}]}"#,
    );
    let verdict = &classifier
        .classify(
            encoder(),
            &["I planted tomatoes and roses in my garden today"],
        )
        .unwrap()[0];
    assert!(matches!(verdict.reason, Some(Reason::Definition { .. })));
    assert!(verdict.scores[0].score > 0.5, "{verdict:?}");
}

#[test]
fn a_keep_text_lets_its_near_copy_pass() {
    let mut classifier = classifier(THREE_CATEGORIES);
    let banter = "you stupid idiot, nobody wants you here";
    assert!(classifier.classify(encoder(), &[banter]).unwrap()[0].harmful);
    classifier
        .edit(|p| p.add_keep(Some("toxic"), banter))
        .unwrap();
    let verdict = &classifier
        .classify(encoder(), &["you stupid idiot, nobody wants you here!!"])
        .unwrap()[0];
    assert!(!verdict.harmful, "{verdict:?}");
    assert!(
        matches!(&verdict.reason, Some(Reason::Keep { text, .. }) if text == banter),
        "{verdict:?}"
    );
}

#[test]
fn edits_reembed_only_what_changed() {
    let counting = CountingEncoder {
        embedded: Cell::new(0),
    };
    let mut classifier = classifier(THREE_CATEGORIES);
    let texts = ["free prize, call now"];
    classifier.classify(&counting, &texts).unwrap();
    // 5 examples + 1 definition, then the text.
    assert_eq!(counting.embedded.get(), 7);
    assert_eq!(classifier.cached_texts(), 6);

    classifier.classify(&counting, &texts).unwrap();
    assert_eq!(counting.embedded.get(), 8, "nothing but the text again");

    classifier
        .edit(|p| p.add_example("spam", "URGENT: your mobile number has won £2000"))
        .unwrap();
    classifier.edit(|p| p.unblock("spam")).unwrap();
    let after = classifier.classify(&counting, &texts).unwrap();
    assert_eq!(counting.embedded.get(), 10, "the new example and the text");
    assert!(!after[0].harmful, "spam is unblocked");

    classifier
        .edit(|p| p.remove_example("spam", "URGENT: your mobile number has won £2000"))
        .unwrap();
    classifier.classify(&counting, &texts).unwrap();
    assert_eq!(counting.embedded.get(), 11);
    assert_eq!(
        classifier.cached_texts(),
        6,
        "removed texts leave the cache"
    );
}

#[test]
fn bad_input_is_refused_and_the_classifier_stays_usable() {
    let mut classifier = classifier(THREE_CATEGORIES);
    let before = classifier.policy().clone();
    assert!(matches!(
        classifier.classify(encoder(), &["fine", "  \u{200B} "]),
        Err(ClassifyError::EmptyText { index: 1 })
    ));
    let huge = "a".repeat(MAX_TEXT_BYTES + 1);
    assert!(matches!(
        classifier.classify(encoder(), &[huge.as_str()]),
        Err(ClassifyError::TextTooLong { index: 0, .. })
    ));
    assert!(classifier
        .edit(|p| p.add_example("weather", "rain"))
        .is_err());
    assert!(classifier
        .edit(|p| {
            p.categories.clear();
            Ok(())
        })
        .is_err());
    assert_eq!(classifier.policy(), &before);
    let long = "this text goes on and on ".repeat(200);
    let verdicts = classifier.classify(encoder(), &[long.as_str()]).unwrap();
    assert!(verdicts[0].truncated);
    assert!(Classifier::new(
        Policy::new(Mode::Binary),
        None,
        ClassifierOptions::default()
    )
    .is_err());
}

/// `text,label` rows of a seed data file; the label is the last field.
fn read_rows(path: &str) -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/harmful")
        .join(path);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the seed data lives in ../shared/data)",
            path.display()
        )
    });
    text.lines()
        .skip(1)
        .filter_map(|line| line.trim_end().rsplit_once(','))
        .map(|(text, label)| (text.trim().to_string(), label.to_string()))
        .collect()
}

/// A binary policy of one category `name` whose examples are the first 8 training texts
/// labelled `harmful_label`.
fn first_examples_policy(train: &[(String, String)], harmful_label: &str, name: &str) -> Policy {
    let mut category = Category::new(name);
    category.examples = train
        .iter()
        .filter(|(_, label)| label == harmful_label)
        .take(8)
        .map(|(text, _)| text.clone())
        .collect();
    let mut policy = Policy::new(Mode::Binary);
    policy.add_category(category).unwrap();
    policy
}

#[test]
fn eight_spam_examples_catch_real_spam() {
    let train = read_rows("spam/train.csv");
    let policy = first_examples_policy(&train, "spam", "spam");
    let test: Vec<(String, String)> = read_rows("spam/test.csv").into_iter().take(300).collect();
    let texts: Vec<&str> = test.iter().map(|(t, _)| t.as_str()).collect();
    // Without built-in weights the examples need counter-examples: eight ordinary messages.
    let mut with_keep = policy.clone();
    for (text, _) in train.iter().filter(|(_, label)| label == "ham").take(8) {
        with_keep.add_keep(None, text).unwrap();
    }
    for (policy, priors, least_f1) in [(policy, Some(priors()), 0.9), (with_keep, None, 0.6)] {
        let mut classifier = Classifier::new(policy, priors, ClassifierOptions::default()).unwrap();
        let verdicts = classifier.classify(encoder(), &texts).unwrap();
        let gold: Vec<bool> = test.iter().map(|(_, label)| label == "spam").collect();
        let (precision, recall) = precision_recall(&verdicts, &gold);
        let f1 = 2.0 * precision * recall / (precision + recall).max(f64::MIN_POSITIVE);
        assert!(f1 >= least_f1, "F1 {f1:.3} below {least_f1}");
    }
}

/// Precision and recall of binary verdicts against gold labels.
fn precision_recall(verdicts: &[tamis_core::classify::Verdict], gold: &[bool]) -> (f64, f64) {
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    for (verdict, &harmful) in verdicts.iter().zip(gold) {
        match (verdict.harmful, harmful) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            _ => {}
        }
    }
    let ratio = |part: usize, whole: usize| part as f64 / whole.max(1) as f64;
    (ratio(tp, tp + fp), ratio(tp, tp + fn_))
}

/// A user's own category: TextDetox's toxic texts under the name `insults`, which no
/// built-in prior knows, from 8 toxic training texts and 8 benign ones as keep texts.
/// Calibration on the policy's own texts must put 0.5 where it means "as likely as not":
/// before it, the unseen toxic texts scored .33-.41 and recall was .25-.40.
#[test]
fn a_renamed_category_from_eight_examples_is_calibrated() {
    let train = read_rows("textdetox/train.csv");
    let mut policy = first_examples_policy(&train, "toxic", "insults");
    for (text, _) in train.iter().filter(|(_, label)| label == "benign").take(8) {
        policy.add_keep(None, text).unwrap();
    }
    // A fixed slice: every fifth test text (the file's labels come in runs).
    let test: Vec<(String, String)> = read_rows("textdetox/test.csv")
        .into_iter()
        .step_by(5)
        .collect();
    let texts: Vec<&str> = test.iter().map(|(t, _)| t.as_str()).collect();
    let gold: Vec<bool> = test.iter().map(|(_, label)| label == "toxic").collect();
    let mut classifier = Classifier::new(policy, Some(priors()), ClassifierOptions::default())
        .expect("a valid policy");
    let verdicts = classifier.classify(encoder(), &texts).unwrap();
    let (precision, recall) = precision_recall(&verdicts, &gold);
    assert!(
        (RENAMED_RECALL.0..=RENAMED_RECALL.1).contains(&recall),
        "recall {recall:.3} outside {RENAMED_RECALL:?}"
    );
    assert!(
        (RENAMED_PRECISION.0..=RENAMED_PRECISION.1).contains(&precision),
        "precision {precision:.3} outside {RENAMED_PRECISION:?}"
    );
}

/// Bounds of [`a_renamed_category_from_eight_examples_is_calibrated`] around the figures
/// measured with the embedding-only fit and the medoid background (recall .955, precision
/// .833 on the 200 texts; .945 / .800 when calibration was added; .945 / .867 with each
/// background cluster represented by its member an eighth of the way down); without
/// calibration, recall was .25-.40 at precision .98.
const RENAMED_RECALL: (f64, f64) = (0.90, 1.0);
const RENAMED_PRECISION: (f64, f64) = (0.75, 0.92);
