//! `tamis eval fusion`: three retrievers on Cranfield and every classical fuser over their
//! runs, scored with nDCG@10, MAP and Recall@100; runs written in TREC format. The dense
//! retriever and the content scorer embed the queries and the documents each with its encoder,
//! so that a model trained with prefixes (e5) gives each side its own.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use tamis_core::fuse::{
    fuse, fuse_with_content, ContentFusion, FusionMethod, Normalization, Preferences, RankedItem,
    RankedList,
};
use tamis_core::metrics::{average_precision, ndcg_at, recall_at};
use tamis_core::nearest_neighbours;
use tamis_core::retrieve::{LexicalIndex, Scoring};

use crate::cranfield::Collection;
use crate::table::Table;
use crate::{EvalEncoder, EvalError};
use tamis_core::fuse::trec_line;

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

/// The model a dense retriever and content scorer run on: one encoder for the queries and one
/// for the documents (the same one, or one with the model's passage prefix, as
/// `tamis_model::CpuEncoder::for_role` makes).
pub struct DenseModel<'a, Q, D> {
    pub queries: &'a Q,
    pub documents: &'a D,
    /// The model's name (the manifest's id): names its section and its TREC runs' folder.
    pub name: String,
    /// Names the documents' cached embeddings (`documents-{checksum}.f32`): the model file's
    /// sha256, short.
    pub checksum: String,
}

/// Embeddings of the documents and queries, the documents cached in `out` per model.
struct Embedded {
    documents: Vec<Vec<f32>>,
    queries: Vec<Vec<f32>>,
    /// Document id to its row in `documents`.
    rows: HashMap<String, usize>,
}

impl Embedded {
    fn document(&self, id: &str) -> Option<&[f32]> {
        self.rows.get(id).map(|&row| self.documents[row].as_slice())
    }
}

fn embed_collection<Q: EvalEncoder, D: EvalEncoder>(
    collection: &Collection,
    model: &DenseModel<Q, D>,
    cache: &Path,
) -> Result<Embedded, EvalError> {
    let dimension = model.documents.dimension();
    let cached = std::fs::read(cache)
        .ok()
        .filter(|bytes| bytes.len() == collection.documents.len() * dimension * 4);
    let documents = match cached {
        Some(bytes) => bytes
            .chunks_exact(dimension * 4)
            .map(|row| {
                row.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect()
            })
            .collect(),
        None => {
            let mut documents: Vec<Vec<f32>> = Vec::with_capacity(collection.documents.len());
            for chunk in collection.documents.chunks(100) {
                let texts: Vec<&str> = chunk.iter().map(|(_, text)| text.as_str()).collect();
                documents.extend(
                    model
                        .documents
                        .embed(&texts)
                        .map_err(EvalError::encoder)?
                        .into_iter()
                        .map(|e| e.vector),
                );
                eprintln!(
                    "embedded {} of {} documents",
                    documents.len(),
                    collection.documents.len()
                );
            }
            let bytes: Vec<u8> = documents
                .iter()
                .flatten()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            std::fs::write(cache, bytes).map_err(|source| EvalError::Write {
                path: cache.to_path_buf(),
                source,
            })?;
            documents
        }
    };
    let queries: Vec<&str> = collection.queries.iter().map(|(_, q)| q.as_str()).collect();
    let queries = model
        .queries
        .embed(&queries)
        .map_err(EvalError::encoder)?
        .into_iter()
        .map(|e| e.vector)
        .collect();
    let rows = collection
        .documents
        .iter()
        .enumerate()
        .map(|(row, (id, _))| (id.clone(), row))
        .collect();
    Ok(Embedded {
        documents,
        queries,
        rows,
    })
}

fn dense_run(collection: &Collection, embedded: &Embedded, depth: usize) -> Run {
    let rankings = embedded
        .queries
        .iter()
        .map(|query| {
            nearest_neighbours(query, &embedded.documents, depth, None)
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
    Run {
        name: "dense".into(),
        rankings,
    }
}

fn lists_for_query(runs: &[Run], q: usize) -> Vec<RankedList> {
    runs.iter()
        .filter(|run| !run.rankings[q].is_empty())
        .map(|run| {
            let items = run.rankings[q]
                .iter()
                .map(|(id, score)| RankedItem::scored(id.clone(), *score))
                .collect();
            RankedList::new(run.name.clone(), items)
        })
        .collect()
}

fn content_run(
    name: &str,
    runs: &[Run],
    embedded: &Embedded,
    settings: ContentFusion,
    preferences: impl Fn(usize) -> Preferences,
    depth: usize,
) -> Result<Run, EvalError> {
    let embedding = |id: &str| embedded.document(id);
    let rankings = (0..embedded.queries.len())
        .map(|q| {
            let fused = fuse_with_content(
                &lists_for_query(runs, q),
                &embedded.queries[q],
                embedding,
                &preferences(q),
                settings,
            )?;
            Ok(fused
                .into_iter()
                .take(depth)
                .map(|f| (f.item.id, f.item.score))
                .collect())
        })
        .collect::<Result<_, EvalError>>()?;
    Ok(Run {
        name: name.to_string(),
        rankings,
    })
}

fn fused_run(
    name: &str,
    runs: &[Run],
    method: tamis_core::fuse::FusionMethod,
    depth: usize,
) -> Result<Run, EvalError> {
    let queries = runs[0].rankings.len();
    let rankings = (0..queries)
        .map(|q| {
            let mut fused = fuse(&lists_for_query(runs, q), Normalization::MinMax, method)?;
            fused.truncate(depth);
            Ok(fused.into_iter().map(|f| (f.id, f.score)).collect())
        })
        .collect::<Result<_, EvalError>>()?;
    Ok(Run {
        name: name.to_string(),
        rankings,
    })
}

/// Mean nDCG@10, MAP and Recall@100 over the queries.
fn evaluate(run: &Run, collection: &Collection, split: Split) -> [f64; 3] {
    let empty = HashMap::new();
    let mut totals = [0.0; 3];
    let mut count = 0.0;
    for (index, ((query, _), ranking)) in collection.queries.iter().zip(&run.rankings).enumerate() {
        if !split.contains(index) {
            continue;
        }
        count += 1.0;
        let judgments = collection.judgments.get(query).unwrap_or(&empty);
        let ids: Vec<&str> = ranking.iter().map(|(id, _)| id.as_str()).collect();
        totals[0] += ndcg_at(&ids, judgments, 10);
        totals[1] += average_precision(&ids, judgments);
        totals[2] += recall_at(&ids, judgments, 100);
    }
    totals.map(|t| t / count)
}

/// Which queries a figure is averaged over (by 0-based position in cran.qry).
#[derive(Clone, Copy, PartialEq)]
enum Split {
    All,
    /// Queries 1, 3, 5, ... (1-based): where settings are chosen.
    Odd,
    /// Queries 2, 4, 6, ...: where the chosen settings are reported.
    Even,
}

impl Split {
    fn contains(self, index: usize) -> bool {
        match self {
            Self::All => true,
            Self::Odd => index.is_multiple_of(2),
            Self::Even => index % 2 == 1,
        }
    }
}

/// The run with the best nDCG@10 on `split`.
fn best<'a>(runs: &'a [Run], collection: &Collection, split: Split) -> &'a Run {
    runs.iter()
        .max_by(|a, b| {
            evaluate(a, collection, split)[0].total_cmp(&evaluate(b, collection, split)[0])
        })
        .expect("at least one run")
}

fn write_trec(run: &Run, collection: &Collection, out: &Path) -> Result<(), EvalError> {
    let mut text = String::new();
    for ((query, _), ranking) in collection.queries.iter().zip(&run.rankings) {
        for (rank, (document, score)) in ranking.iter().enumerate() {
            let _ = writeln!(
                text,
                "{}",
                trec_line(query, document, rank + 1, *score, &run.name)
            );
        }
    }
    let path = out.join(format!("{}.trec", run.name));
    std::fs::write(&path, text).map_err(|source| EvalError::Write { path, source })
}

/// The three retrievers' runs (BM25, TF-IDF cosine, dense) and the collection's embeddings,
/// the document embeddings cached in `out` per model.
fn retrieve<Q: EvalEncoder, D: EvalEncoder>(
    collection: &Collection,
    model: &DenseModel<Q, D>,
    depth: usize,
    out: &Path,
) -> Result<(Vec<Run>, Embedded), EvalError> {
    std::fs::create_dir_all(out).map_err(|source| EvalError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    let embedded = embed_collection(
        collection,
        model,
        &out.join(format!("documents-{}.f32", model.checksum)),
    )?;
    let texts: Vec<&str> = collection
        .documents
        .iter()
        .map(|(_, t)| t.as_str())
        .collect();
    let index = LexicalIndex::new(&texts);
    let retrievers = vec![
        lexical_run("bm25", collection, &index, BM25, depth),
        lexical_run("tfidf", collection, &index, Scoring::TfIdfCosine, depth),
        dense_run(collection, &embedded, depth),
    ];
    Ok((retrievers, embedded))
}

/// The demo's fusion data: for the first `queries` queries, the three retrievers' top `depth`
/// documents, the judged documents' gains, and the texts of the documents listed, as JSON.
pub fn retriever_lists<Q: EvalEncoder, D: EvalEncoder>(
    collection: &Collection,
    model: &DenseModel<Q, D>,
    queries: usize,
    depth: usize,
    out: &Path,
) -> Result<serde_json::Value, EvalError> {
    let (retrievers, _) = retrieve(collection, model, depth, out)?;
    let texts: HashMap<&str, &str> = collection
        .documents
        .iter()
        .map(|(id, text)| (id.as_str(), text.as_str()))
        .collect();
    let mut documents = serde_json::Map::new();
    let mut entries = Vec::new();
    for (q, (id, text)) in collection.queries.iter().enumerate().take(queries) {
        let lists: Vec<serde_json::Value> = retrievers
            .iter()
            .map(|run| {
                let items: Vec<serde_json::Value> = run.rankings[q]
                    .iter()
                    .map(|(document, score)| {
                        documents.insert(document.clone(), texts[document.as_str()].into());
                        serde_json::json!({"id": document, "score": score})
                    })
                    .collect();
                serde_json::json!({"name": run.name, "items": items})
            })
            .collect();
        entries.push(serde_json::json!({
            "id": id,
            "text": text,
            "gains": collection.judgments.get(id).cloned().unwrap_or_default(),
            "lists": lists,
        }));
    }
    Ok(serde_json::json!({
        "source": format!(
            "Cranfield collection ({} aeronautics abstracts, {} queries, graded judgments)",
            collection.documents.len(),
            collection.queries.len()
        ),
        "queries": entries,
        "documents": documents,
    }))
}

/// A content-aware run's name from its settings.
fn content_name(settings: ContentFusion) -> String {
    format!(
        "content_d{}_w{}_s{}_a{}",
        settings.feedback_depth,
        settings.feedback_weight,
        settings.content_share,
        settings.full_share_spread
    )
}

/// One model's evaluation: its tables, and the figures of its runs for the side-by-side
/// summary ([`side_by_side`]).
pub struct FusionReport {
    /// The model's tables, markdown.
    pub tables: String,
    /// The runs of its first table, each with its nDCG@10, MAP and Recall@100 over every
    /// query.
    pub runs: Vec<(String, [f64; 3])>,
}

/// Runs the whole evaluation on `model`: the document embeddings are cached in `out`, the TREC
/// runs written to `out/{model name}/`.
pub fn eval_fusion<Q: EvalEncoder, D: EvalEncoder>(
    collection: &Collection,
    model: &DenseModel<Q, D>,
    depth: usize,
    out: &Path,
) -> Result<FusionReport, EvalError> {
    let (retrievers, embedded) = retrieve(collection, model, depth, out)?;
    let runs_out = out.join(&model.name);
    std::fs::create_dir_all(&runs_out).map_err(|source| EvalError::Write {
        path: runs_out.clone(),
        source,
    })?;
    let mut fused = Vec::new();
    for (name, method) in FusionMethod::NAMED {
        fused.push(fused_run(name, &retrievers, method, depth)?);
    }
    let mut content = Vec::new();
    let mut grid = Vec::new();
    for feedback_depth in [3, 5, 10] {
        for feedback_weight in [0.5f32, 1.0, 2.0, 4.0] {
            for content_share in [0.3, 0.5, 0.7, 0.9] {
                for full_share_spread in [0.0, 0.05, 0.1, 0.15] {
                    let settings = ContentFusion {
                        feedback_depth,
                        feedback_weight,
                        content_share,
                        full_share_spread,
                        ..ContentFusion::default()
                    };
                    content.push(content_run(
                        &content_name(settings),
                        &retrievers,
                        &embedded,
                        settings,
                        |_| Preferences::default(),
                        depth,
                    )?);
                    grid.push(settings);
                }
            }
        }
    }
    let default_name = content_name(ContentFusion::default());
    let mut page = String::new();
    let mut runs_table = Table::new(
        format!(
            "Cranfield: {} queries, {} documents, runs of depth {depth}, fusion with min-max normalization",
            collection.queries.len(),
            collection.documents.len()
        ),
        &["run", "nDCG@10", "MAP", "Recall@100"],
    );
    let shown = content.iter().filter(|run| run.name == default_name);
    let mut figures = Vec::new();
    for run in retrievers.iter().chain(&fused).chain(shown) {
        let [ndcg, map, recall] = evaluate(run, collection, Split::All);
        runs_table.row([run.name.clone(), fourth(ndcg), fourth(map), fourth(recall)]);
        figures.push((run.name.clone(), [ndcg, map, recall]));
        write_trec(run, collection, &runs_out)?;
    }
    page.push_str(&runs_table.to_string());
    let mut chosen_table = Table::new(
        "Settings chosen on the odd queries, reported on the even ones",
        &[
            "kind",
            "chosen on odd queries",
            "nDCG@10",
            "MAP",
            "Recall@100",
        ],
    );
    for (kind, runs) in [
        ("single retriever", &retrievers),
        ("classical fusion", &fused),
        ("content-aware fusion", &content),
    ] {
        let chosen = best(runs, collection, Split::Odd);
        let [ndcg, map, recall] = evaluate(chosen, collection, Split::Even);
        chosen_table.row([
            kind.to_string(),
            chosen.name.clone(),
            fourth(ndcg),
            fourth(map),
            fourth(recall),
        ]);
    }
    page.push_str(&chosen_table.to_string());
    let mut spread_table = Table::new(
        "Adaptive content share at the default settings: nDCG@10 by full_share_spread \
         (0: content always has its full share)",
        &["full_share_spread", "odd queries", "even queries"],
    );
    let defaults = ContentFusion::default();
    for (settings, run) in grid.iter().zip(&content) {
        let at_defaults = ContentFusion {
            full_share_spread: settings.full_share_spread,
            ..defaults
        };
        if *settings == at_defaults {
            let [odd, ..] = evaluate(run, collection, Split::Odd);
            let [even, ..] = evaluate(run, collection, Split::Even);
            spread_table.row([
                settings.full_share_spread.to_string(),
                fourth(odd),
                fourth(even),
            ]);
        }
    }
    page.push_str(&spread_table.to_string());
    let default_run = content
        .iter()
        .find(|run| run.name == default_name)
        .expect("the default settings are in the grid");
    page.push_str(
        &personalization(&retrievers, default_run, collection, &embedded, depth)?.to_string(),
    );
    let _ = writeln!(page, "TREC runs written to `{}`.\n", runs_out.display());
    Ok(FusionReport {
        tables: page,
        runs: figures,
    })
}

/// The side-by-side summary: each run (a row, in the first model's order) with its nDCG@10,
/// MAP and Recall@100 under each model (three columns per model; blank where a model has no
/// such run).
pub fn side_by_side(models: &[(String, FusionReport)]) -> Table {
    const METRICS: [&str; 3] = ["nDCG@10", "MAP", "Recall@100"];
    let header: Vec<String> = std::iter::once("run".to_string())
        .chain(models.iter().flat_map(|(model, _)| {
            METRICS
                .iter()
                .map(move |metric| format!("{model} {metric}"))
        }))
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut table = Table::new("Summary: the models side by side", &header).with_note(
        "Every run of the sections below over all the queries, each model as the dense \
         retriever and as the content scorer (BM25 and TF-IDF do not depend on it).",
    );
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in models.iter().flat_map(|(_, report)| &report.runs) {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    for name in names {
        let cells = models.iter().flat_map(|(_, report)| {
            let figures = report.runs.iter().find(|(run, _)| run == name);
            (0..METRICS.len())
                .map(move |metric| figures.map_or_else(String::new, |(_, f)| fourth(f[metric])))
        });
        table.row(std::iter::once(name.to_string()).chain(cells));
    }
    table
}

/// nDCG, MAP and recall figures with four decimals.
fn fourth(value: f64) -> String {
    format!("{value:.4}")
}

/// Relevance feedback as personalization: for each query with at least 4 relevant documents,
/// its 2 most relevant are liked examples (then left out of scoring) and the 2 best-ranked
/// irrelevant ones of the unpersonalized run are disliked. Returns the comparison table.
fn personalization(
    retrievers: &[Run],
    unpersonalized: &Run,
    collection: &Collection,
    embedded: &Embedded,
    depth: usize,
) -> Result<Table, EvalError> {
    let vector = |id: &str| {
        embedded
            .document(id)
            .map(<[f32]>::to_vec)
            .unwrap_or_default()
    };
    let mut examples: HashMap<usize, (Vec<String>, Vec<String>)> = HashMap::new();
    for (q, (query, _)) in collection.queries.iter().enumerate() {
        let Some(judgments) = collection.judgments.get(query) else {
            continue;
        };
        let mut relevant: Vec<(&String, f64)> = judgments
            .iter()
            .filter(|(_, &g)| g > 0.0)
            .map(|(d, &g)| (d, g))
            .collect();
        if relevant.len() < 4 {
            continue;
        }
        relevant.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        let liked = relevant.iter().take(2).map(|(d, _)| (*d).clone()).collect();
        let disliked = unpersonalized.rankings[q]
            .iter()
            .map(|(d, _)| d)
            .filter(|d| !judgments.contains_key(*d))
            .take(2)
            .cloned()
            .collect();
        examples.insert(q, (liked, disliked));
    }
    let personalized = content_run(
        "content_personalized",
        retrievers,
        embedded,
        ContentFusion::default(),
        |q| match examples.get(&q) {
            Some((liked, disliked)) => Preferences {
                liked: liked.iter().map(|d| vector(d)).collect(),
                disliked: disliked.iter().map(|d| vector(d)).collect(),
            },
            None => Preferences::default(),
        },
        depth,
    )?;
    let ndcg_without_liked = |run: &Run| {
        let total: f64 = examples
            .iter()
            .map(|(&q, (liked, _))| {
                let mut judgments = collection.judgments[&collection.queries[q].0].clone();
                liked.iter().for_each(|d| {
                    judgments.remove(d);
                });
                let ids: Vec<&str> = run.rankings[q]
                    .iter()
                    .map(|(d, _)| d.as_str())
                    .filter(|d| !liked.iter().any(|l| l == d))
                    .collect();
                ndcg_at(&ids, &judgments, 10)
            })
            .sum();
        total / examples.len().max(1) as f64
    };
    let mut table = Table::new(
        format!(
            "Personalized ranking ({} queries with at least 4 relevant documents; 2 liked, \
             2 disliked; nDCG@10 over the remaining judgments)",
            examples.len()
        ),
        &["run", "nDCG@10"],
    );
    table.row([
        "content-aware fusion",
        &fourth(ndcg_without_liked(unpersonalized)),
    ]);
    table.row([
        "with preferences",
        &fourth(ndcg_without_liked(&personalized)),
    ]);
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(runs: &[(&str, [f64; 3])]) -> FusionReport {
        FusionReport {
            tables: String::new(),
            runs: runs
                .iter()
                .map(|(name, figures)| (name.to_string(), *figures))
                .collect(),
        }
    }

    #[test]
    fn side_by_side_puts_each_run_of_each_model_on_one_row() {
        let models = [
            (
                "a".to_string(),
                report(&[("bm25", [0.35, 0.28, 0.73]), ("dense", [0.37, 0.31, 0.77])]),
            ),
            (
                "b".to_string(),
                report(&[("dense", [0.41, 0.33, 0.8]), ("rrf", [0.4, 0.32, 0.79])]),
            ),
        ];
        let table = side_by_side(&models).to_string();
        let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("| ")).collect();
        assert_eq!(
            rows,
            [
                "| run | a nDCG@10 | a MAP | a Recall@100 | b nDCG@10 | b MAP | b Recall@100 |",
                "| bm25 | 0.3500 | 0.2800 | 0.7300 |  |  |  |",
                "| dense | 0.3700 | 0.3100 | 0.7700 | 0.4100 | 0.3300 | 0.8000 |",
                "| rrf |  |  |  | 0.4000 | 0.3200 | 0.7900 |",
            ]
        );
    }
}
