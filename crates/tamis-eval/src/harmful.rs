//! The harmful-content seed datasets of `<data root>/harmful` (see its README): SMS spam,
//! TextDetox toxicity and SST-2 sentiment as three binary tasks, and the Mastodon posts.

use std::path::Path;

use crate::EvalError;

/// The folder of the harmful-content datasets under the data root.
pub const HARMFUL_DIR: &str = "harmful";

/// A text with its gold label for one task.
#[derive(Debug, Clone)]
pub struct Labeled {
    pub text: String,
    pub harmful: bool,
}

/// One binary task: a tamis category and its data.
pub struct Task {
    /// The standard category the harmful class maps to: `spam`, `toxic`, `negative`.
    pub category: &'static str,
    /// The dataset's name in tables.
    pub dataset: &'static str,
    /// Another name for the same category, which no built-in prior knows: how a user's own
    /// category meets the classifier.
    pub renamed: &'static str,
    /// A definition in the user's words, for the definition settings.
    pub definition: &'static str,
    pub train: Vec<Labeled>,
    pub test: Vec<Labeled>,
}

impl Task {
    /// Keeps `limit` test texts spread evenly over the test set (whose labels may come in
    /// runs), so that a run while iterating costs a fraction of the full one.
    pub fn limit_test(&mut self, limit: usize) {
        let total = self.test.len();
        if limit >= total {
            return;
        }
        self.test = (0..limit)
            .map(|i| self.test[i * total / limit].clone())
            .collect();
    }
}

/// A Mastodon post with its single label and its label set (labels from the source
/// repository's model predictions, not gold).
pub struct Post {
    pub text: String,
    pub label: String,
    pub labels: Vec<String>,
}

fn read_csv(path: &Path, columns: &[&str]) -> Result<Vec<Vec<String>>, EvalError> {
    let fail = |reason: String| EvalError::Csv {
        path: path.to_path_buf(),
        reason,
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| fail(e.to_string()))?;
    let headers = reader.headers().map_err(|e| fail(e.to_string()))?.clone();
    let positions = columns
        .iter()
        .map(|c| {
            headers
                .iter()
                .position(|h| h == *c)
                .ok_or_else(|| fail(format!("no `{c}` column")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    reader
        .records()
        .map(|record| {
            let record = record.map_err(|e| fail(e.to_string()))?;
            Ok(positions
                .iter()
                .map(|&p| record.get(p).unwrap_or_default().trim().to_string())
                .collect())
        })
        .collect()
}

fn read_split(path: &Path, harmful_label: &str) -> Result<Vec<Labeled>, EvalError> {
    Ok(read_csv(path, &["text", "label"])?
        .into_iter()
        .filter(|row| !row[0].is_empty())
        .map(|row| Labeled {
            harmful: row[1] == harmful_label,
            text: row[0].clone(),
        })
        .collect())
}

/// The three binary tasks, in the order spam, toxic, negative, from the data root.
pub fn read_tasks(data_root: &Path) -> Result<Vec<Task>, EvalError> {
    let dir = data_root.join(HARMFUL_DIR);
    Ok(vec![
        Task {
            category: "spam",
            dataset: "SMS spam",
            renamed: "junk",
            definition: "Unsolicited advertising or scam messages: prizes, offers, \
                         subscriptions, requests to call or text a number to claim something.",
            train: read_split(&dir.join("spam/train.csv"), "spam")?,
            test: read_split(&dir.join("spam/test.csv"), "spam")?,
        },
        Task {
            category: "toxic",
            dataset: "TextDetox",
            renamed: "insults",
            definition: "Toxic language: insults, slurs, obscenity, threats, harassment or \
                         hateful attacks on people or groups.",
            train: read_split(&dir.join("textdetox/train.csv"), "toxic")?,
            test: read_split(&dir.join("textdetox/test.csv"), "toxic")?,
        },
        Task {
            category: "negative",
            dataset: "SST-2",
            renamed: "gloomy",
            definition: "Negative sentiment: criticism, disappointment, complaints, \
                         something described as bad, boring or unpleasant.",
            train: read_split(&dir.join("sst2/train.csv"), "0")?,
            test: read_split(&dir.join("sst2/validation.csv"), "0")?,
        },
    ])
}

/// The Mastodon posts, from the data root.
pub fn read_mastodon(data_root: &Path) -> Result<Vec<Post>, EvalError> {
    let path = data_root
        .join(HARMFUL_DIR)
        .join("mastodon/mastodon2025-en-shuffled-predicted.csv");
    Ok(read_csv(&path, &["text", "label", "labels"])?
        .into_iter()
        .filter(|row| !row[0].is_empty())
        .map(|row| Post {
            text: row[0].clone(),
            label: row[1].clone(),
            labels: row[2]
                .split(',')
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect(),
        })
        .collect())
}
