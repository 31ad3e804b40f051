//! TREC run files (`query Q0 document rank score tag`, one line per retrieved document), the
//! format IR tools exchange runs in.
//!
//! ```
//! use tamis_core::fuse::{lists_for_query, parse_trec};
//!
//! let bm25 = parse_trec("q1 Q0 a 1 12.0 bm25\nq1 Q0 b 2 9.5 bm25\n")?;
//! let dense = parse_trec("q1 Q0 b 1 0.91 dense\n")?;
//! let lists = lists_for_query(&[("bm25".into(), bm25), ("dense".into(), dense)], "q1");
//! assert_eq!(lists.len(), 2);
//! assert_eq!(lists[1].items[0].id, "b");
//! # Ok::<(), tamis_core::fuse::TrecError>(())
//! ```

use std::collections::BTreeMap;

use super::{RankedItem, RankedList};

/// Per query id, the run's (document, score) lines in file order.
pub type TrecRun = BTreeMap<String, Vec<(String, f64)>>;

/// A line of a run file that cannot be read. Names the 1-based line, never its content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct TrecError {
    pub line: usize,
    pub problem: TrecProblem,
}

/// What is wrong with a run-file line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TrecProblem {
    #[error("expected six fields `query Q0 document rank score tag`")]
    FieldCount,
    #[error("the score is not a number")]
    ScoreNotANumber,
    #[error("the score is not finite (NaN or infinite)")]
    ScoreNotFinite,
}

/// Reads a run. Blank lines are skipped; the rank field is not used (lists keep file order,
/// which is what trec_eval and ranx read as the ranking within equal scores).
pub fn parse_trec(text: &str) -> Result<TrecRun, TrecError> {
    let mut run = TrecRun::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let error = |problem| TrecError {
            line: index + 1,
            problem,
        };
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [query, _, document, _, score, _] = fields[..] else {
            return Err(error(TrecProblem::FieldCount));
        };
        let score: f64 = score
            .parse()
            .map_err(|_| error(TrecProblem::ScoreNotANumber))?;
        if !score.is_finite() {
            return Err(error(TrecProblem::ScoreNotFinite));
        }
        run.entry(query.to_string())
            .or_default()
            .push((document.to_string(), score));
    }
    Ok(run)
}

/// The lists of one query across named runs; runs without the query are skipped.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_queries_in_file_order_and_skips_blank_lines() {
        let run = parse_trec("2 Q0 x 1 3 t\n\n1 Q0 a 1 2.5 t\n1 Q0 b 2 -1e3 t\n").unwrap();
        assert_eq!(run["1"], vec![("a".into(), 2.5), ("b".into(), -1000.0)]);
        assert_eq!(run["2"], vec![("x".into(), 3.0)]);
    }

    #[test]
    fn a_bad_line_is_named_without_its_content() {
        for (text, problem) in [
            ("1 Q0 a 1 1 t\n1 Q0 secret 2\n", TrecProblem::FieldCount),
            (
                "1 Q0 a 1 1 t\n1 Q0 secret 2 high t\n",
                TrecProblem::ScoreNotANumber,
            ),
            (
                "1 Q0 a 1 1 t\n1 Q0 secret 2 NaN t\n",
                TrecProblem::ScoreNotFinite,
            ),
            (
                "1 Q0 a 1 1 t\n1 Q0 secret 2 -inf t\n",
                TrecProblem::ScoreNotFinite,
            ),
        ] {
            let error = parse_trec(text).unwrap_err();
            assert_eq!(error, TrecError { line: 2, problem });
            assert!(!error.to_string().contains("secret"));
        }
    }

    #[test]
    fn a_written_line_reads_back() {
        let line = trec_line("q", "d", 1, 0.25, "tamis");
        assert_eq!(parse_trec(&line).unwrap()["q"], vec![("d".into(), 0.25)]);
    }
}
