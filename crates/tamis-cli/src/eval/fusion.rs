//! `tamis eval fusion`: three retrievers on Cranfield and every classical fuser over their
//! runs, scored with nDCG@10, MAP and Recall@100; runs written in TREC format.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use tamis_core::fuse::{fuse, Normalization, RankedItem, RankedList};
use tamis_core::metrics::{average_precision, ndcg_at, recall_at};
use tamis_core::retrieve::{LexicalIndex, Scoring};
use tamis_core::{nearest_neighbours, Encoder};
use tamis_model::TractEncoder;

use super::cranfield::Collection;
use crate::bench::fuse::METHODS;
use crate::CliError;

/// One ranked list of (document id, score) per query, in query order.
struct Run {
    name: String,
    rankings: Vec<Vec<(String, f64)>>,
}

const BM25: Scoring = Scoring::Bm25 { k1: 1.2, b: 0.75 };

fn lexical_run(
    name: &str,
    collection: &Collection,
    index: &LexicalIndex,
    scoring: Scoring,
    depth: usize,
) -> Run {
    let rankings = collection
        .queries
        .iter()
        .map(|(_, query)| {
            index
                .search(query, scoring, depth)
                .into_iter()
                .map(|(document, score)| (collection.documents[document].0.clone(), score))
                .collect()
        })
        .collect();
    Run {
        name: name.to_string(),
        rankings,
    }
}

fn dense_run(
    collection: &Collection,
    encoder: &TractEncoder,
    depth: usize,
) -> Result<Run, CliError> {
    let mut documents = Vec::with_capacity(collection.documents.len());
    for chunk in collection.documents.chunks(100) {
        let texts: Vec<&str> = chunk.iter().map(|(_, text)| text.as_str()).collect();
        documents.extend(encoder.embed(&texts)?.into_iter().map(|e| e.vector));
        eprintln!(
            "embedded {} of {} documents",
            documents.len(),
            collection.documents.len()
        );
    }
    let queries: Vec<&str> = collection.queries.iter().map(|(_, q)| q.as_str()).collect();
    let rankings = encoder
        .embed(&queries)?
        .iter()
        .map(|query| {
            nearest_neighbours(&query.vector, &documents, depth, None)
                .into_iter()
                .map(|n| {
                    (
                        collection.documents[n.index].0.clone(),
                        f64::from(n.similarity),
                    )
                })
                .collect()
        })
        .collect();
    Ok(Run {
        name: "dense".into(),
        rankings,
    })
}

fn fused_run(
    name: &str,
    runs: &[Run],
    method: tamis_core::fuse::FusionMethod,
    depth: usize,
) -> Result<Run, CliError> {
    let queries = runs[0].rankings.len();
    let rankings = (0..queries)
        .map(|q| {
            let lists: Vec<RankedList> = runs
                .iter()
                .filter(|run| !run.rankings[q].is_empty())
                .map(|run| {
                    let items = run.rankings[q]
                        .iter()
                        .map(|(id, score)| RankedItem::scored(id.clone(), *score))
                        .collect();
                    RankedList::new(run.name.clone(), items)
                })
                .collect();
            let mut fused = fuse(&lists, Normalization::MinMax, method)
                .map_err(|e| CliError::Io(e.to_string()))?;
            fused.truncate(depth);
            Ok(fused.into_iter().map(|f| (f.id, f.score)).collect())
        })
        .collect::<Result<_, CliError>>()?;
    Ok(Run {
        name: name.to_string(),
        rankings,
    })
}

/// Mean nDCG@10, MAP and Recall@100 over the queries.
fn evaluate(run: &Run, collection: &Collection) -> [f64; 3] {
    let empty = HashMap::new();
    let mut totals = [0.0; 3];
    for ((query, _), ranking) in collection.queries.iter().zip(&run.rankings) {
        let judgments = collection.judgments.get(query).unwrap_or(&empty);
        let ids: Vec<&str> = ranking.iter().map(|(id, _)| id.as_str()).collect();
        totals[0] += ndcg_at(&ids, judgments, 10);
        totals[1] += average_precision(&ids, judgments);
        totals[2] += recall_at(&ids, judgments, 100);
    }
    totals.map(|t| t / collection.queries.len() as f64)
}

fn write_trec(run: &Run, collection: &Collection, out: &Path) -> Result<(), CliError> {
    let mut text = String::new();
    for ((query, _), ranking) in collection.queries.iter().zip(&run.rankings) {
        for (rank, (document, score)) in ranking.iter().enumerate() {
            let _ = writeln!(
                text,
                "{query} Q0 {document} {} {score:.9} {}",
                rank + 1,
                run.name
            );
        }
    }
    let path = out.join(format!("{}.trec", run.name));
    std::fs::write(&path, text)
        .map_err(|e| CliError::Io(format!("cannot write {}: {e}", path.display())))
}

/// Runs the whole evaluation and returns the markdown table.
pub fn eval_fusion(
    collection: &Collection,
    encoder: &TractEncoder,
    depth: usize,
    out: &Path,
) -> Result<String, CliError> {
    let texts: Vec<&str> = collection
        .documents
        .iter()
        .map(|(_, t)| t.as_str())
        .collect();
    let index = LexicalIndex::new(&texts);
    let retrievers = vec![
        lexical_run("bm25", collection, &index, BM25, depth),
        lexical_run("tfidf", collection, &index, Scoring::TfIdfCosine, depth),
        dense_run(collection, encoder, depth)?,
    ];
    let mut fused = Vec::new();
    for (name, method) in METHODS {
        fused.push(fused_run(name, &retrievers, method, depth)?);
    }
    std::fs::create_dir_all(out)
        .map_err(|e| CliError::Io(format!("cannot create {}: {e}", out.display())))?;
    let mut table = format!(
        "Cranfield: {} queries, {} documents, runs of depth {depth}, fusion with min-max normalization\n\
         | run | nDCG@10 | MAP | Recall@100 |\n|---|---:|---:|---:|\n",
        collection.queries.len(),
        collection.documents.len()
    );
    for run in retrievers.iter().chain(&fused) {
        let [ndcg, map, recall] = evaluate(run, collection);
        let _ = writeln!(
            table,
            "| {} | {ndcg:.4} | {map:.4} | {recall:.4} |",
            run.name
        );
        write_trec(run, collection, out)?;
    }
    let _ = writeln!(table, "TREC runs written to {}", out.display());
    Ok(table)
}
