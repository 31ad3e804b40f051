//! Every classical fuser and every metric against golden values computed by ranx
//! (`tests/fusion/make_ranx_goldens.py`).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use tamis_core::fuse::{fuse, FusionMethod, Normalization, RankedItem, RankedList};
use tamis_core::metrics::{average_precision, ndcg_at, recall_at};

fn method(name: &str, params: &Value) -> FusionMethod {
    let param = |key: &str| params[key].as_f64().expect(key);
    match name {
        "sum" => FusionMethod::Sum,
        "mnz" => FusionMethod::Mnz,
        "anz" => FusionMethod::Anz,
        "max" => FusionMethod::Max,
        "min" => FusionMethod::Min,
        "med" => FusionMethod::Med,
        "gmnz" => FusionMethod::Gmnz {
            gamma: param("gamma"),
        },
        "wsum" => FusionMethod::Wsum,
        "wmnz" => FusionMethod::Wmnz,
        "rrf" => FusionMethod::Rrf { k: param("k") },
        "isr" => FusionMethod::Isr,
        "log_isr" => FusionMethod::LogIsr,
        "logn_isr" => FusionMethod::LognIsr {
            sigma: param("sigma"),
        },
        "rbc" => FusionMethod::Rbc { phi: param("phi") },
        "bordafuse" => FusionMethod::BordaFuse,
        "w_bordafuse" => FusionMethod::WeightedBordaFuse,
        "condorcet" => FusionMethod::Condorcet,
        "w_condorcet" => FusionMethod::WeightedCondorcet,
        other => panic!("unknown method {other}"),
    }
}

fn normalization(name: &Value) -> Normalization {
    match name.as_str() {
        None => Normalization::None,
        Some("min-max") => Normalization::MinMax,
        Some("max") => Normalization::Max,
        Some("sum") => Normalization::Sum,
        Some("zmuv") => Normalization::Zmuv,
        Some("rank") => Normalization::Rank,
        Some("borda") => Normalization::Borda,
        Some(other) => panic!("unknown normalization {other}"),
    }
}

fn golden() -> Value {
    serde_json::from_str(include_str!("fusion/ranx_goldens.json")).expect("json")
}

#[test]
fn metrics_equal_ranx() {
    let golden = golden();
    let mut compared = 0;
    for (run, evaluation) in golden["runs"]["general"]
        .as_array()
        .expect("runs")
        .iter()
        .zip(golden["evaluations"].as_array().expect("evaluations"))
    {
        for (query, docs) in run.as_object().expect("queries") {
            let mut ranked: Vec<(&str, f64)> = docs
                .as_object()
                .expect("docs")
                .iter()
                .map(|(d, s)| (d.as_str(), s.as_f64().expect("score")))
                .collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
            let ranked: Vec<&str> = ranked.into_iter().map(|(d, _)| d).collect();
            let judgments: HashMap<&str, f64> = golden["qrels"][query]
                .as_object()
                .expect("qrels")
                .iter()
                .map(|(d, g)| (d.as_str(), g.as_f64().expect("grade")))
                .collect();
            for (metric, ours) in [
                ("ndcg@10", ndcg_at(&ranked, &judgments, 10)),
                ("map", average_precision(&ranked, &judgments)),
                ("recall@100", recall_at(&ranked, &judgments, 100)),
            ] {
                let expected = evaluation[metric][query].as_f64().expect(metric);
                assert!(
                    (ours - expected).abs() <= 1e-9,
                    "{metric} {query}: tamis {ours}, ranx {expected}"
                );
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 27, "3 runs x 3 queries x 3 metrics");
}

#[test]
fn fused_scores_equal_ranx() {
    let golden = golden();
    let cases = golden["cases"].as_array().expect("cases");
    let mut compared = 0;
    for case in cases {
        let runs = golden["runs"][case["runs"].as_str().expect("runs")]
            .as_array()
            .expect("run list");
        let weights: Vec<f64> = case["params"]["weights"]
            .as_array()
            .map(|w| w.iter().map(|x| x.as_f64().expect("weight")).collect())
            .unwrap_or_else(|| vec![1.0; runs.len()]);
        let label = format!("{} / {}", case["method"], case["norm"]);
        for (query, expected) in case["scores"].as_object().expect("scores") {
            let lists: Vec<RankedList> = runs
                .iter()
                .zip(&weights)
                .enumerate()
                .map(|(i, (run, &weight))| RankedList {
                    weight,
                    ..RankedList::new(
                        format!("run{i}"),
                        run[query]
                            .as_object()
                            .expect("docs")
                            .iter()
                            .map(|(doc, score)| {
                                RankedItem::scored(doc, score.as_f64().expect("score"))
                            })
                            .collect(),
                    )
                })
                .collect();
            let fused = fuse(
                &lists,
                normalization(&case["norm"]),
                method(case["method"].as_str().expect("method"), &case["params"]),
            )
            .unwrap_or_else(|e| panic!("{label}: {e}"));
            let ours: BTreeMap<&str, f64> =
                fused.iter().map(|f| (f.id.as_str(), f.score)).collect();
            let expected = expected.as_object().expect("expected scores");
            assert_eq!(ours.len(), expected.len(), "{label} {query}: candidates");
            for (doc, value) in expected {
                let value = value.as_f64().expect("score");
                let got = ours[doc.as_str()];
                assert!(
                    (got - value).abs() <= 1e-9 * value.abs().max(1.0),
                    "{label} {query} {doc}: tamis {got}, ranx {value}"
                );
                compared += 1;
            }
        }
    }
    assert!(
        cases.len() >= 70 && compared > 3000,
        "{} cases, {compared} scores",
        cases.len()
    );
}
