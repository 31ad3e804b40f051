//! Policy JSON validation and every edit operation, including refused edits that must leave
//! the policy as it was.

use tamis_core::classify::{
    Action, Category, Mode, Policy, PolicyError, MAX_EXAMPLE_BYTES, MAX_POLICY_TEXTS,
};

const VALID: &str = r#"{
    "version": 1,
    "mode": "multilabel",
    "categories": [
        {"name": "spam", "definition": "Unsolicited offers", "examples": ["WIN a prize now"],
         "keep": ["Your parcel arrives today"], "action": "hide"},
        {"name": "toxic", "examples": ["you are an idiot"], "blocked": false, "action": "blur",
         "threshold": 0.7}
    ],
    "keep": ["I love this idiotically good film"]
}"#;

fn valid() -> Policy {
    Policy::from_json(VALID).expect("the sample policy is valid")
}

/// The error for `json`, which must be refused.
fn refused(json: &str) -> PolicyError {
    Policy::from_json(json).expect_err("the policy must be refused")
}

fn with_category(category: &str) -> String {
    format!(r#"{{"version": 1, "mode": "binary", "categories": [{category}]}}"#)
}

#[test]
fn reads_every_field_with_defaults() {
    let policy = valid();
    assert_eq!(policy.mode, Mode::Multilabel);
    let spam = policy.category("SPAM").unwrap();
    assert!(spam.blocked, "blocked defaults to true");
    assert_eq!(spam.definition.as_deref(), Some("Unsolicited offers"));
    let toxic = policy.category("toxic").unwrap();
    assert!(!toxic.blocked);
    assert_eq!(toxic.action, Action::Blur);
    assert_eq!(toxic.threshold, Some(0.7));
    let minimal = Policy::from_json(&with_category(r#"{"name": "x", "examples": ["a b"]}"#));
    assert_eq!(minimal.unwrap().categories[0].action, Action::Hide);
}

#[test]
fn serializes_to_json_it_reads_back() {
    let policy = valid();
    assert_eq!(Policy::from_json(&policy.to_json()).unwrap(), policy);
}

#[test]
fn errors_name_the_field() {
    let cases: Vec<(String, &str)> = vec![
        (
            with_category(r#"{"name": "x", "examples": ["a"], "action": "delete"}"#),
            "categories[0].action",
        ),
        (
            with_category(r#"{"name": "x", "examples": ["a"], "colour": "red"}"#),
            "categories[0]",
        ),
        (
            with_category(r#"{"name": "x", "examples": ["a", "a"]}"#),
            "categories[0].examples[1]",
        ),
        (
            with_category(r#"{"name": "x", "examples": ["a"], "keep": [" "]}"#),
            "categories[0].keep[0]",
        ),
        (
            with_category(r#"{"name": "", "examples": ["a"]}"#),
            "categories[0].name",
        ),
        (
            with_category(r#"{"name": "x", "examples": ["a"], "threshold": 1.5}"#),
            "categories[0].threshold",
        ),
        (
            with_category(r#"{"name": "x"}"#),
            "needs a definition or at least one example",
        ),
        (
            with_category(r#"{"name": "x", "examples": ["a"]}, {"name": "X", "examples": ["b"]}"#),
            "categories[1].name",
        ),
        (
            r#"{"version": 1, "mode": "sometimes", "categories": []}"#.into(),
            "mode",
        ),
    ];
    for (json, field) in cases {
        let message = refused(&json).to_string();
        assert!(message.contains(field), "{message} should name {field}");
    }
}

#[test]
fn refuses_wrong_version_empty_policy_and_broken_json() {
    assert_eq!(
        refused(r#"{"version": 2, "mode": "binary", "categories": []}"#),
        PolicyError::UnsupportedVersion { found: 2 }
    );
    assert_eq!(
        refused(r#"{"version": 1, "mode": "binary", "categories": []}"#),
        PolicyError::NoCategories
    );
    assert!(matches!(
        refused("{\"version\": 1,"),
        PolicyError::Json { .. }
    ));
    assert!(matches!(refused(""), PolicyError::Json { .. }));
}

#[test]
fn refuses_huge_examples() {
    let huge = "spam ".repeat(MAX_EXAMPLE_BYTES);
    let json = with_category(&format!(r#"{{"name": "x", "examples": ["{huge}"]}}"#));
    assert!(refused(&json).to_string().contains("bytes"));
}

#[test]
fn every_edit_applies() {
    let mut policy = valid();
    policy.add_example("spam", "Claim your cash").unwrap();
    assert_eq!(policy.category("spam").unwrap().examples.len(), 2);
    policy.remove_example("spam", "WIN a prize now").unwrap();
    assert_eq!(
        policy.category("spam").unwrap().examples,
        ["Claim your cash"]
    );
    policy.add_keep(Some("spam"), "Your code is 1234").unwrap();
    policy
        .remove_keep(Some("spam"), "Your parcel arrives today")
        .unwrap();
    assert_eq!(policy.category("spam").unwrap().keep, ["Your code is 1234"]);
    policy.add_keep(None, "see you at lunch").unwrap();
    policy
        .remove_keep(None, "I love this idiotically good film")
        .unwrap();
    assert_eq!(policy.keep, ["see you at lunch"]);
    policy.unblock("spam").unwrap();
    assert!(!policy.category("spam").unwrap().blocked);
    policy.block("toxic").unwrap();
    assert!(policy.category("toxic").unwrap().blocked);
    policy.set_definition("toxic", Some("Insults")).unwrap();
    assert_eq!(
        policy.category("toxic").unwrap().definition.as_deref(),
        Some("Insults")
    );
    policy.set_action("toxic", Action::Warn).unwrap();
    assert_eq!(policy.category("toxic").unwrap().action, Action::Warn);
    policy.set_threshold("toxic", None).unwrap();
    assert_eq!(policy.category("toxic").unwrap().threshold, None);
    let mut negative = Category::new("negative");
    negative.definition = Some("Complaints and disappointment".into());
    policy.add_category(negative).unwrap();
    policy.remove_category("spam").unwrap();
    let names: Vec<&str> = policy.categories.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["toxic", "negative"]);
}

#[test]
fn refused_edits_leave_the_policy_as_it_was() {
    let mut policy = valid();
    let before = policy.clone();
    let refusals = [
        policy.add_example("weather", "rain"),
        policy.add_example("spam", "WIN a prize now"),
        policy.add_example("spam", ""),
        policy.remove_example("spam", "never added"),
        policy.remove_keep(None, "never added"),
        policy.set_threshold("toxic", Some(f32::NAN)),
        policy.set_definition("nope", Some("x")),
        policy.add_category(Category::new("Spam")),
        policy.block("nope"),
    ];
    for refusal in refusals {
        assert!(refusal.is_err());
    }
    assert_eq!(policy, before);
    // Removing the only example of a category without a definition would leave it empty.
    assert!(policy.remove_example("toxic", "you are an idiot").is_err());
    assert_eq!(policy, before);
    policy.remove_category("toxic").unwrap();
    assert_eq!(
        policy.remove_category("spam"),
        Err(PolicyError::NoCategories)
    );
    assert_eq!(policy.categories.len(), 1);
}

#[test]
fn a_policy_holds_at_most_max_policy_texts() {
    let mut policy = valid();
    let room = MAX_POLICY_TEXTS
        - (policy.keep.len()
            + policy
                .categories
                .iter()
                .map(|c| c.examples.len() + c.keep.len() + usize::from(c.definition.is_some()))
                .sum::<usize>());
    for i in 0..room {
        policy
            .add_example("spam", &format!("offer number {i}"))
            .unwrap();
    }
    let before = policy.clone();
    assert_eq!(
        policy.add_example("spam", "one offer too many"),
        Err(PolicyError::TooManyTexts {
            count: MAX_POLICY_TEXTS + 1
        })
    );
    assert_eq!(policy, before);
    let mut json: serde_json::Value = serde_json::from_str(&policy.to_json()).unwrap();
    json["categories"][0]["examples"] = (0..10_000).map(|i| format!("text {i}")).collect();
    let error = Policy::from_json(&json.to_string()).unwrap_err();
    let limit = format!("at most {MAX_POLICY_TEXTS}");
    assert!(error.to_string().contains(&limit), "{error}");
}
