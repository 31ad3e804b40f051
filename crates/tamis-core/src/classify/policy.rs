//! What a user wants hidden: categories described by a definition and examples, versioned
//! JSON, validated on load and on every edit.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The policy format this version of tamis reads and writes.
pub const POLICY_VERSION: u32 = 1;
/// Longest category name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest example, keep text or definition, in bytes. Longer texts would be cut by the
/// model's window anyway; refusing them keeps a pasted document out of a policy.
pub const MAX_EXAMPLE_BYTES: usize = 4096;
/// Most texts (examples, keep texts, definitions) in one policy: room for a labelled file of a
/// few thousand posts (GermEval's 3,339 training tweets). Each is embedded on the user's device
/// when the policy is first applied: 4,000 Mastodon posts take about two minutes in wasm with
/// MiniLM.
pub const MAX_POLICY_TEXTS: usize = 4000;

/// How verdicts are decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Harmful or not: harmful when any blocked category reaches its threshold.
    Binary,
    /// At most one category: the best-scoring one, if it reaches its threshold.
    Multiclass,
    /// Every category that reaches its threshold.
    Multilabel,
}

/// What a client does with a matched text, in Mastodon's words, from mildest to strictest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Show behind a content warning.
    Warn,
    /// Show blurred until clicked.
    Blur,
    /// Do not show.
    Hide,
}

/// One category of content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Unique within the policy (ignoring case). `toxic`, `spam` and `negative` come with a
    /// built-in prior when the classifier has one.
    pub name: String,
    /// A sentence saying what belongs here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    /// Texts that belong here.
    #[serde(default)]
    pub examples: Vec<String>,
    /// Texts that look alike but must pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep: Vec<String>,
    /// Whether a match acts; unblocked categories are scored but never act.
    #[serde(default = "yes")]
    pub blocked: bool,
    /// What a match does.
    #[serde(default = "default_action")]
    pub action: Action,
    /// Score at or above which a text matches; the classifier's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f32>,
}

fn yes() -> bool {
    true
}

fn default_action() -> Action {
    Action::Hide
}

impl Category {
    /// A blocked category that hides what matches, with no examples yet.
    pub fn new(name: impl Into<String>) -> Self {
        Category {
            name: name.into(),
            definition: None,
            examples: Vec::new(),
            keep: Vec::new(),
            blocked: true,
            action: Action::Hide,
            threshold: None,
        }
    }
}

/// A complete policy.
///
/// ```
/// use tamis_core::classify::{Mode, Policy};
///
/// let mut policy = Policy::from_json(r#"{
///     "version": 1,
///     "mode": "multilabel",
///     "categories": [{"name": "spam", "examples": ["WIN a FREE prize, call now"]}]
/// }"#).unwrap();
/// assert_eq!(policy.mode, Mode::Multilabel);
/// policy.add_example("spam", "Claim your cash reward today").unwrap();
/// assert!(policy.add_example("weather", "rain again").is_err());
/// assert_eq!(policy.categories[0].examples.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub version: u32,
    pub mode: Mode,
    pub categories: Vec<Category>,
    /// Texts that must pass whatever the category.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep: Vec<String>,
}

/// Why a policy or an edit was refused. `field` is a path such as `categories[1].examples[0]`.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PolicyError {
    #[error("policy is not valid JSON for a tamis policy at `{field}`: {reason}")]
    Json { field: String, reason: String },
    #[error("`version`: this tamis reads policy version {POLICY_VERSION}, not {found}")]
    UnsupportedVersion { found: u32 },
    #[error("`categories`: a policy needs at least one category")]
    NoCategories,
    #[error("`{field}`: {reason}")]
    InvalidField { field: String, reason: String },
    #[error("`{field}`: \"{name}\" appears twice (names are compared ignoring case)")]
    DuplicateName { field: String, name: String },
    #[error("`{field}`: the same text appears twice; remove the copy")]
    DuplicateText { field: String },
    #[error("no category named \"{0}\" in the policy")]
    UnknownCategory(String),
    #[error("category \"{category}\" has no such text to remove")]
    UnknownText { category: String },
    #[error(
        "the policy holds {count} texts (examples, keep texts and definitions); at most \
         {MAX_POLICY_TEXTS} are allowed, since each is embedded on the device"
    )]
    TooManyTexts { count: usize },
}

impl Policy {
    /// A policy with no categories yet: add one before classifying.
    pub fn new(mode: Mode) -> Self {
        Policy {
            version: POLICY_VERSION,
            mode,
            categories: Vec::new(),
            keep: Vec::new(),
        }
    }

    /// Parses and validates a policy.
    pub fn from_json(json: &str) -> Result<Self, PolicyError> {
        let deserializer = &mut serde_json::Deserializer::from_str(json);
        let policy: Policy =
            serde_path_to_error::deserialize(deserializer).map_err(|e| PolicyError::Json {
                field: e.path().to_string(),
                reason: e.inner().to_string(),
            })?;
        policy.validate()?;
        Ok(policy)
    }

    /// The policy as pretty-printed JSON, readable by [`Policy::from_json`].
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a policy always serializes")
    }

    /// Checks every rule a policy must follow.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.version != POLICY_VERSION {
            return Err(PolicyError::UnsupportedVersion {
                found: self.version,
            });
        }
        if self.categories.is_empty() {
            return Err(PolicyError::NoCategories);
        }
        let mut names = HashSet::new();
        for (i, category) in self.categories.iter().enumerate() {
            let field = format!("categories[{i}]");
            let name = category.name.trim();
            if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
                return Err(invalid(
                    format!("{field}.name"),
                    format!("a name has 1 to {MAX_NAME_CHARS} characters"),
                ));
            }
            if !names.insert(name.to_lowercase()) {
                return Err(PolicyError::DuplicateName {
                    field: format!("{field}.name"),
                    name: category.name.clone(),
                });
            }
            if let Some(definition) = &category.definition {
                check_text(&format!("{field}.definition"), definition)?;
            }
            check_texts(&format!("{field}.examples"), &category.examples)?;
            check_texts(&format!("{field}.keep"), &category.keep)?;
            if category.examples.is_empty() && category.definition.is_none() {
                return Err(invalid(
                    field,
                    format!(
                        "category \"{}\" needs a definition or at least one example",
                        category.name
                    ),
                ));
            }
            if let Some(threshold) = category.threshold {
                if !(threshold > 0.0 && threshold < 1.0) {
                    return Err(invalid(
                        format!("{field}.threshold"),
                        format!("a threshold is between 0 and 1 (exclusive), not {threshold}"),
                    ));
                }
            }
        }
        check_texts("keep", &self.keep)?;
        let count = self.keep.len()
            + self
                .categories
                .iter()
                .map(|c| c.examples.len() + c.keep.len() + usize::from(c.definition.is_some()))
                .sum::<usize>();
        if count > MAX_POLICY_TEXTS {
            return Err(PolicyError::TooManyTexts { count });
        }
        Ok(())
    }

    /// The category called `name` (ignoring case).
    pub fn category(&self, name: &str) -> Option<&Category> {
        self.categories
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Applies `change` to a copy and keeps it only if the result is valid, so a refused edit
    /// leaves the policy as it was.
    fn edit(
        &mut self,
        change: impl FnOnce(&mut Policy) -> Result<(), PolicyError>,
    ) -> Result<(), PolicyError> {
        let mut edited = self.clone();
        change(&mut edited)?;
        edited.validate()?;
        *self = edited;
        Ok(())
    }

    fn edit_category(
        &mut self,
        name: &str,
        change: impl FnOnce(&mut Category) -> Result<(), PolicyError>,
    ) -> Result<(), PolicyError> {
        self.edit(|policy| {
            let category = policy
                .categories
                .iter_mut()
                .find(|c| c.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| PolicyError::UnknownCategory(name.to_string()))?;
            change(category)
        })
    }

    /// Adds a category.
    pub fn add_category(&mut self, category: Category) -> Result<(), PolicyError> {
        self.edit(|policy| {
            policy.categories.push(category);
            Ok(())
        })
    }

    /// Removes a category.
    pub fn remove_category(&mut self, name: &str) -> Result<(), PolicyError> {
        self.edit(|policy| {
            let before = policy.categories.len();
            policy
                .categories
                .retain(|c| !c.name.eq_ignore_ascii_case(name));
            if policy.categories.len() == before {
                return Err(PolicyError::UnknownCategory(name.to_string()));
            }
            Ok(())
        })
    }

    /// Adds an example to a category.
    pub fn add_example(&mut self, category: &str, text: &str) -> Result<(), PolicyError> {
        self.edit_category(category, |c| {
            c.examples.push(text.to_string());
            Ok(())
        })
    }

    /// Removes an example from a category.
    pub fn remove_example(&mut self, category: &str, text: &str) -> Result<(), PolicyError> {
        self.edit_category(category, |c| remove_text(&mut c.examples, &c.name, text))
    }

    /// Adds a text that must pass: to one category's keep list, or to the global one.
    pub fn add_keep(&mut self, category: Option<&str>, text: &str) -> Result<(), PolicyError> {
        match category {
            Some(name) => self.edit_category(name, |c| {
                c.keep.push(text.to_string());
                Ok(())
            }),
            None => self.edit(|policy| {
                policy.keep.push(text.to_string());
                Ok(())
            }),
        }
    }

    /// Removes a keep text, from one category or from the global list.
    pub fn remove_keep(&mut self, category: Option<&str>, text: &str) -> Result<(), PolicyError> {
        match category {
            Some(name) => self.edit_category(name, |c| remove_text(&mut c.keep, &c.name, text)),
            None => self.edit(|policy| remove_text(&mut policy.keep, "(global keep)", text)),
        }
    }

    /// Makes a category act on its matches.
    pub fn block(&mut self, category: &str) -> Result<(), PolicyError> {
        self.edit_category(category, |c| {
            c.blocked = true;
            Ok(())
        })
    }

    /// Keeps scoring a category but stops it from acting.
    pub fn unblock(&mut self, category: &str) -> Result<(), PolicyError> {
        self.edit_category(category, |c| {
            c.blocked = false;
            Ok(())
        })
    }

    /// Sets or clears a category's definition.
    pub fn set_definition(
        &mut self,
        category: &str,
        definition: Option<&str>,
    ) -> Result<(), PolicyError> {
        self.edit_category(category, |c| {
            c.definition = definition.map(str::to_string);
            Ok(())
        })
    }

    /// Sets what a category's matches do.
    pub fn set_action(&mut self, category: &str, action: Action) -> Result<(), PolicyError> {
        self.edit_category(category, |c| {
            c.action = action;
            Ok(())
        })
    }

    /// Sets or clears a category's threshold.
    pub fn set_threshold(
        &mut self,
        category: &str,
        threshold: Option<f32>,
    ) -> Result<(), PolicyError> {
        self.edit_category(category, |c| {
            c.threshold = threshold;
            Ok(())
        })
    }
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> PolicyError {
    PolicyError::InvalidField {
        field: field.into(),
        reason: reason.into(),
    }
}

fn check_text(field: &str, text: &str) -> Result<(), PolicyError> {
    if text.trim().is_empty() {
        return Err(invalid(field, "text is empty"));
    }
    if text.len() > MAX_EXAMPLE_BYTES {
        return Err(invalid(
            field,
            format!(
                "text is {} bytes; at most {MAX_EXAMPLE_BYTES} are allowed",
                text.len()
            ),
        ));
    }
    Ok(())
}

fn check_texts(field: &str, texts: &[String]) -> Result<(), PolicyError> {
    let mut seen = HashSet::new();
    for (i, text) in texts.iter().enumerate() {
        let field = format!("{field}[{i}]");
        check_text(&field, text)?;
        if !seen.insert(text.trim()) {
            return Err(PolicyError::DuplicateText { field });
        }
    }
    Ok(())
}

fn remove_text(texts: &mut Vec<String>, owner: &str, text: &str) -> Result<(), PolicyError> {
    let position =
        texts
            .iter()
            .position(|t| t == text)
            .ok_or_else(|| PolicyError::UnknownText {
                category: owner.to_string(),
            })?;
    texts.remove(position);
    Ok(())
}

/// One edit as data, for callers on the other side of a boundary (JavaScript, a worker): JSON
/// such as `{"op": "add_example", "category": "spam", "text": "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum PolicyEdit {
    AddCategory {
        category: Category,
    },
    RemoveCategory {
        category: String,
    },
    AddExample {
        category: String,
        text: String,
    },
    RemoveExample {
        category: String,
        text: String,
    },
    AddKeep {
        category: Option<String>,
        text: String,
    },
    RemoveKeep {
        category: Option<String>,
        text: String,
    },
    Block {
        category: String,
    },
    Unblock {
        category: String,
    },
    SetDefinition {
        category: String,
        definition: Option<String>,
    },
    SetAction {
        category: String,
        action: Action,
    },
    SetThreshold {
        category: String,
        threshold: Option<f32>,
    },
}

impl PolicyEdit {
    /// Applies the edit with the matching [`Policy`] method.
    ///
    /// ```
    /// use tamis_core::classify::{Policy, PolicyEdit};
    ///
    /// let mut policy = Policy::from_json(
    ///     r#"{"version": 1, "mode": "binary", "categories": [{"name": "spam", "examples": ["free prize"]}]}"#,
    /// ).unwrap();
    /// let edit: PolicyEdit = serde_json::from_str(r#"{"op": "unblock", "category": "spam"}"#).unwrap();
    /// edit.apply(&mut policy).unwrap();
    /// assert!(!policy.categories[0].blocked);
    /// ```
    pub fn apply(self, policy: &mut Policy) -> Result<(), PolicyError> {
        match self {
            PolicyEdit::AddCategory { category } => policy.add_category(category),
            PolicyEdit::RemoveCategory { category } => policy.remove_category(&category),
            PolicyEdit::AddExample { category, text } => policy.add_example(&category, &text),
            PolicyEdit::RemoveExample { category, text } => policy.remove_example(&category, &text),
            PolicyEdit::AddKeep { category, text } => policy.add_keep(category.as_deref(), &text),
            PolicyEdit::RemoveKeep { category, text } => {
                policy.remove_keep(category.as_deref(), &text)
            }
            PolicyEdit::Block { category } => policy.block(&category),
            PolicyEdit::Unblock { category } => policy.unblock(&category),
            PolicyEdit::SetDefinition {
                category,
                definition,
            } => policy.set_definition(&category, definition.as_deref()),
            PolicyEdit::SetAction { category, action } => policy.set_action(&category, action),
            PolicyEdit::SetThreshold {
                category,
                threshold,
            } => policy.set_threshold(&category, threshold),
        }
    }
}
