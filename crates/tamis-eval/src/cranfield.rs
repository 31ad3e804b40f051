//! The Cranfield collection in its SMART format (`cran.all.1400`, `cran.qry`, `cranqrel`).

use std::collections::HashMap;
use std::path::Path;

use crate::EvalError;

/// Documents, queries and graded judgments.
pub struct Collection {
    /// (document id, abstract text).
    pub documents: Vec<(String, String)>,
    /// (query id, text); ids are 1..=225, the numbering the judgments use.
    pub queries: Vec<(String, String)>,
    /// Per query id: document id to gain (4 for Cleverdon's code 1, the most relevant, down to
    /// 1 for code 4). The unexplained code -1 lines are dropped.
    pub judgments: HashMap<String, HashMap<String, f64>>,
}

fn read(dir: &Path, name: &str) -> Result<String, EvalError> {
    let path = dir.join(name);
    std::fs::read_to_string(&path).map_err(|source| EvalError::Read { path, source })
}

/// SMART records: `.I id` starts one, `.X` lines start field X. Returns (id, fields).
fn records(text: &str) -> Vec<(String, HashMap<char, String>)> {
    let mut records: Vec<(String, HashMap<char, String>)> = Vec::new();
    let mut field = None;
    for line in text.lines().map(str::trim_end) {
        if let Some(id) = line.strip_prefix(".I") {
            records.push((id.trim().to_string(), HashMap::new()));
            field = None;
        } else if line.len() == 2 && line.starts_with('.') {
            field = line.chars().nth(1);
        } else if let (Some(field), Some((_, fields))) = (field, records.last_mut()) {
            let value = fields.entry(field).or_default();
            value.push_str(line.trim());
            value.push(' ');
        }
    }
    records
}

/// The Cranfield folder under the data root.
pub const CRANFIELD_DIR: &str = "ir/cranfield";

/// Reads the collection from the data root.
pub fn read_cranfield(data_root: &Path) -> Result<Collection, EvalError> {
    let dir = &data_root.join(CRANFIELD_DIR);
    let text_of = |fields: &HashMap<char, String>| {
        fields
            .get(&'W')
            .or(fields.get(&'T'))
            .map(|t| t.trim().to_string())
            .unwrap_or_default()
    };
    let documents: Vec<(String, String)> = records(&read(dir, "cran.all.1400")?)
        .into_iter()
        .map(|(id, fields)| (id, text_of(&fields)))
        .collect();
    let queries: Vec<(String, String)> = records(&read(dir, "cran.qry")?)
        .into_iter()
        .enumerate()
        .map(|(i, (_, fields))| ((i + 1).to_string(), text_of(&fields)))
        .collect();
    let mut judgments: HashMap<String, HashMap<String, f64>> = HashMap::new();
    for (number, line) in read(dir, "cranqrel")?.lines().enumerate() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [query, document, code] = parts[..] else {
            return Err(EvalError::Data {
                path: dir.join("cranqrel"),
                reason: format!("line {}: expected 3 fields", number + 1),
            });
        };
        let code: i32 = code.parse().map_err(|_| EvalError::Data {
            path: dir.join("cranqrel"),
            reason: format!(
                "line {}: the relevance code `{code}` is not a number",
                number + 1
            ),
        })?;
        if (1..=4).contains(&code) {
            judgments
                .entry(query.to_string())
                .or_default()
                .insert(document.to_string(), f64::from(5 - code));
        }
    }
    if documents.len() != 1400 || queries.len() != 225 {
        return Err(EvalError::Data {
            path: dir.to_path_buf(),
            reason: format!(
                "holds {} documents and {} queries, expected Cranfield's 1400 and 225",
                documents.len(),
                queries.len()
            ),
        });
    }
    Ok(Collection {
        documents,
        queries,
        judgments,
    })
}
