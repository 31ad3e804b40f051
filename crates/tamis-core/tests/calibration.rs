//! Calibrated custom categories on synthetic embeddings (no model): a category no prior
//! knows, from three examples and nothing else, from a definition alone, and several at
//! once, must put 0.5 between its unseen texts and the benign ones.

use std::convert::Infallible;
use std::sync::Arc;

use tamis_core::classify::{
    lexical_features, BackgroundPoint, Category, Classifier, ClassifierOptions, Mode, Policy,
    Priors, Reason, TextFeatures, Verdict,
};
use tamis_core::{Embedding, Encoder};

const DIMENSION: usize = 24;
/// Benign topics: the built-in background summarizes them, as the real one summarizes
/// ordinary messages, reviews and comments.
const BENIGN_TOPICS: [&str; 6] = ["weather", "film", "food", "sport", "travel", "music"];
/// Topics of the custom categories.
const HARMFUL_TOPICS: [&str; 2] = ["insult", "advert"];

fn topic_index(topic: &str) -> usize {
    HARMFUL_TOPICS
        .iter()
        .chain(&BENIGN_TOPICS)
        .position(|t| *t == topic)
        .unwrap_or_else(|| panic!("unknown topic {topic}"))
}

/// SplitMix64 of the text's bytes: the text's own noise, the same on every call.
fn noise(text: &str, dimension: usize) -> f32 {
    let mut z = text.bytes().fold(
        (dimension as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3),
    );
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0
}

fn unit(vector: Vec<f32>) -> Vec<f32> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    vector.into_iter().map(|x| x / norm).collect()
}

/// "<topic> <anything>": the topic's direction plus the text's own noise, which overlaps
/// the topics as a real encoder's neighbourhoods do.
fn embedding_of(text: &str) -> Vec<f32> {
    let topic = text.split_whitespace().next().unwrap_or_default();
    let mut vector: Vec<f32> = (0..DIMENSION).map(|d| 0.35 * noise(text, d)).collect();
    vector[topic_index(topic)] += 1.0;
    unit(vector)
}

struct TopicEncoder;

/// As [`TopicEncoder`], but a description lands on the topic after its "about", as e5's
/// passage prefix moves a definition towards the texts it describes.
struct DescriptionsByTheirSubject;

impl Encoder for DescriptionsByTheirSubject {
    type Error = Infallible;
    fn dimension(&self) -> usize {
        DIMENSION
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, Infallible> {
        TopicEncoder.embed(texts)
    }
    fn embed_descriptions(&self, descriptions: &[&str]) -> Result<Vec<Embedding>, Infallible> {
        let subjects: Vec<&str> = descriptions
            .iter()
            .map(|d| d.split_once(" about ").map_or(*d, |(_, subject)| subject))
            .collect();
        TopicEncoder.embed(&subjects)
    }
}

impl Encoder for TopicEncoder {
    type Error = Infallible;
    fn dimension(&self) -> usize {
        DIMENSION
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, Infallible> {
        Ok(texts
            .iter()
            .map(|text| Embedding {
                vector: embedding_of(text),
                tokens: text.split_whitespace().count() + 2,
                truncated: false,
            })
            .collect())
    }
}

/// Built-in weights with no category prior: only the benign background, four texts of each
/// benign topic (other texts than the tests classify).
fn background_only() -> Arc<Priors> {
    let background = BENIGN_TOPICS
        .iter()
        .flat_map(|topic| texts(topic, 1000..1004))
        .map(|text| BackgroundPoint {
            features: TextFeatures {
                embedding: embedding_of(&text),
                lexical: lexical_features(&text),
            },
            weight: 1.0,
        })
        .collect();
    Arc::new(Priors {
        model_sha256: "synthetic".into(),
        categories: Vec::new(),
        background,
    })
}

fn texts(topic: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{topic} post number {i}")).collect()
}

fn classify(policy: Policy, texts: &[String]) -> Vec<Verdict> {
    classify_with(&TopicEncoder, policy, texts)
}

fn classify_with(encoder: &impl Encoder, policy: Policy, texts: &[String]) -> Vec<Verdict> {
    classify_with_options(encoder, ClassifierOptions::default(), policy, texts)
}

fn classify_with_options(
    encoder: &impl Encoder,
    options: ClassifierOptions,
    policy: Policy,
    texts: &[String],
) -> Vec<Verdict> {
    let mut classifier =
        Classifier::new(policy, Some(background_only()), options).expect("a valid policy");
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let Ok(verdicts) = classifier.classify(encoder, &refs) else {
        panic!("synthetic texts classify")
    };
    verdicts
}

/// A binary policy blocking `insults` from `k` insults, with `k` film posts as keep texts.
fn insults_with_film_keep_texts(k: usize) -> Policy {
    let mut insults = Category::new("insults");
    insults.examples = texts("insult", 0..k);
    let mut policy = binary(insults);
    for text in texts("film", 0..k) {
        policy.add_keep(None, &text).unwrap();
    }
    policy
}

fn binary(category: Category) -> Policy {
    let mut policy = Policy::new(Mode::Binary);
    policy.add_category(category).expect("a valid category");
    policy
}

/// Unseen insults and unseen benign texts of every benign topic.
fn unseen() -> (Vec<String>, Vec<String>) {
    let benign = BENIGN_TOPICS
        .iter()
        .flat_map(|topic| texts(topic, 100..110))
        .collect();
    (texts("insult", 100..160), benign)
}

fn share_harmful(verdicts: &[Verdict]) -> f64 {
    verdicts.iter().filter(|v| v.harmful).count() as f64 / verdicts.len() as f64
}

fn mean_score(verdicts: &[Verdict]) -> f32 {
    verdicts.iter().map(|v| v.scores[0].score).sum::<f32>() / verdicts.len() as f32
}

#[test]
fn three_examples_and_nothing_else_put_one_half_between_the_classes() {
    let mut insults = Category::new("insults");
    insults.examples = texts("insult", 0..3);
    let (harmful, benign) = unseen();
    let verdicts = classify(binary(insults.clone()), &harmful);
    let benign_verdicts = classify(binary(insults.clone()), &benign);
    assert!(
        share_harmful(&verdicts) >= 0.9,
        "recall {}",
        share_harmful(&verdicts)
    );
    assert!(
        share_harmful(&benign_verdicts) <= 0.05,
        "false positives {}",
        share_harmful(&benign_verdicts)
    );
    // Without calibration the fit memorizes its three examples and the unseen insults
    // score lower: calibration is what lifts them.
    let mut raw = Classifier::new(
        binary(insults),
        Some(background_only()),
        ClassifierOptions {
            calibrate: false,
            ..ClassifierOptions::default()
        },
    )
    .unwrap();
    let refs: Vec<&str> = harmful.iter().map(String::as_str).collect();
    let uncalibrated = raw.classify(&TopicEncoder, &refs).unwrap();
    assert!(
        mean_score(&verdicts) > mean_score(&uncalibrated),
        "calibrated {} against uncalibrated {}",
        mean_score(&verdicts),
        mean_score(&uncalibrated)
    );
}

#[test]
fn keep_texts_join_the_calibration() {
    let policy = insults_with_film_keep_texts(8);
    let (harmful, benign) = unseen();
    assert!(share_harmful(&classify(policy.clone(), &harmful)) >= 0.9);
    assert!(share_harmful(&classify(policy, &benign)) <= 0.05);
}

#[test]
fn a_definition_alone_decides_by_its_distance_from_the_background() {
    let mut insults = Category::new("insults");
    insults.definition =
        Some("insult language: insult attacks, insult slurs or insult name-calling".into());
    let (harmful, benign) = unseen();
    let verdicts = classify(binary(insults.clone()), &harmful);
    assert!(
        share_harmful(&verdicts) >= 0.8,
        "recall {}",
        share_harmful(&verdicts)
    );
    assert!(matches!(
        verdicts[0].reason,
        Some(Reason::Definition { .. })
    ));
    // 0.5 sits `AnchorOptions::definition_deviations` (0.75) standard deviations above the
    // background's mean similarity: benign texts spread like the background pass it at about
    // a normal tail's rate (23%); with examples the model path does far better.
    let benign_verdicts = classify(binary(insults), &benign);
    assert!(
        share_harmful(&benign_verdicts) <= 0.35,
        "false positives {}",
        share_harmful(&benign_verdicts)
    );
}

#[test]
fn a_category_outnumbered_by_its_keep_texts_is_lowered_by_the_policy_mix() {
    // 8 insults against 32 keep texts: each score's logit moves by half of ln(32 / 8).
    let mut insults = Category::new("insults");
    insults.examples = texts("insult", 0..8);
    let mut policy = binary(insults);
    for text in texts("film", 0..32) {
        policy.add_keep(None, &text).unwrap();
    }
    let (mut unseen_texts, benign) = unseen();
    unseen_texts.extend(benign);
    let scores_at = |strength: f32| -> Vec<f32> {
        let options = ClassifierOptions {
            policy_mix_strength: strength,
            ..ClassifierOptions::default()
        };
        classify_with_options(&TopicEncoder, options, policy.clone(), &unseen_texts)
            .iter()
            .map(|v| v.scores[0].score)
            .collect()
    };
    let logit = |p: f32| (f64::from(p) / (1.0 - f64::from(p))).ln();
    let expected = -0.5 * 4f64.ln();
    let (balanced, mixed) = (scores_at(0.0), scores_at(0.5));
    let mut compared = 0;
    for (&before, &after) in balanced.iter().zip(&mixed) {
        // Away from 0 and 1, where f32 scores keep the logit's digits.
        if (0.01..0.99).contains(&before) {
            let moved = logit(after) - logit(before);
            assert!((moved - expected).abs() < 1e-3, "{before} -> {after}");
            compared += 1;
        }
    }
    assert!(compared >= 10, "only {compared} scores away from 0 and 1");
}

#[test]
fn several_custom_categories_are_each_calibrated_and_explained_by_their_own_examples() {
    let mut policy = Policy::new(Mode::Multilabel);
    for (name, topic) in [("insults", "insult"), ("adverts", "advert")] {
        let mut category = Category::new(name);
        category.examples = texts(topic, 0..4);
        policy.add_category(category).unwrap();
    }
    let mut unseen_texts = texts("insult", 200..220);
    unseen_texts.extend(texts("advert", 200..220));
    unseen_texts.extend(texts("weather", 200..220));
    let verdicts = classify(policy, &unseen_texts);
    let mut correct = 0;
    for (text, verdict) in unseen_texts.iter().zip(&verdicts) {
        let expected: &[&str] = match text.split_whitespace().next() {
            Some("insult") => &["insults"],
            Some("advert") => &["adverts"],
            _ => &[],
        };
        if verdict.labels == expected {
            correct += 1;
        }
        if let (Some(label), Some(Reason::Example { category, text, .. }), false) =
            (verdict.labels.first(), &verdict.reason, expected.is_empty())
        {
            assert_eq!(label, category, "{verdict:?}");
            assert!(
                text.starts_with(&expected[0][..5]),
                "the reason is an example of its category: {verdict:?}"
            );
        }
    }
    assert!(correct >= 55, "{correct} of 60 texts labelled exactly");
}

#[test]
fn a_definition_without_examples_is_embedded_as_a_description() {
    let mut insults = Category::new("insults");
    insults.definition = Some("weather talk about insult attacks, insult slurs".into());
    let (harmful, _) = unseen();
    let described = classify_with(
        &DescriptionsByTheirSubject,
        binary(insults.clone()),
        &harmful,
    );
    assert!(
        share_harmful(&described) >= 0.8,
        "recall {}",
        share_harmful(&described)
    );
    // Embedded as a text to judge, the same definition reads as weather talk.
    let as_text = classify_with(&TopicEncoder, binary(insults), &harmful);
    assert!(share_harmful(&as_text) < share_harmful(&described));
}

#[test]
fn one_to_three_examples_and_keep_texts_are_a_probe_against_the_keep_texts_alone() {
    let (harmful, _) = unseen();
    let films = texts("film", 100..110);
    let refs: Vec<&str> = harmful.iter().chain(&films).map(String::as_str).collect();
    let flagged =
        |scores: &[f32]| scores.iter().filter(|&&s| s >= 0.5).count() as f64 / scores.len() as f64;
    for k in 1..=3 {
        let policy = insults_with_film_keep_texts(k);
        // The benign background does not enter the fit: with or without it, the same scores.
        let scores = |priors: Option<Arc<Priors>>| -> Vec<f32> {
            let mut classifier =
                Classifier::new(policy.clone(), priors, ClassifierOptions::default()).unwrap();
            classifier
                .classify(&TopicEncoder, &refs)
                .unwrap()
                .iter()
                .map(|v| v.scores[0].score)
                .collect()
        };
        let with_background = scores(Some(background_only()));
        assert_eq!(with_background, scores(None), "k = {k}");
        let (insult_scores, film_scores) = with_background.split_at(harmful.len());
        assert!(flagged(insult_scores) >= 0.8, "k = {k}: {insult_scores:?}");
        assert!(flagged(film_scores) <= 0.1, "k = {k}: {film_scores:?}");
    }
}
