//! TREC run files (`query Q0 document rank score tag`), read for `tamis fuse`, written by
//! `tamis eval`.

use std::collections::BTreeMap;
use std::path::Path;

use tamis_core::fuse::{RankedItem, RankedList};

use crate::CliError;

/// Per query id, the run's (document, score) lines in file order.
pub type TrecRun = BTreeMap<String, Vec<(String, f64)>>;

/// Reads a run file. A line without six fields or with a non-numeric score is an error
/// naming the file and the line.
pub fn read_trec(path: &Path) -> Result<TrecRun, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Io(format!("cannot read {}: {e}", path.display())))?;
    let mut run = TrecRun::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad =
            |what: &str| CliError::Io(format!("{} line {}: {what}", path.display(), number + 1));
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [query, _, document, _, score, _] = fields[..] else {
            return Err(bad("expected `query Q0 document rank score tag`"));
        };
        let score: f64 = score
            .parse()
            .map_err(|_| bad("the score is not a number"))?;
        run.entry(query.to_string())
            .or_default()
            .push((document.to_string(), score));
    }
    Ok(run)
}

/// The lists of one query across runs, named after the files; runs without it are skipped.
pub fn lists_for_query(runs: &[(String, TrecRun)], query: &str) -> Vec<RankedList> {
    runs.iter()
        .filter_map(|(name, run)| {
            let items = run
                .get(query)?
                .iter()
                .map(|(document, score)| RankedItem::scored(document.clone(), *score))
                .collect();
            Some(RankedList::new(name.clone(), items))
        })
        .collect()
}

/// One TREC line.
pub fn trec_line(query: &str, document: &str, rank: usize, score: f64, tag: &str) -> String {
    format!("{query} Q0 {document} {rank} {score:.9} {tag}")
}
