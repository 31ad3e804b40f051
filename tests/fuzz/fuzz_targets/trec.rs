//! TREC run files: runs separated by a line `--`, each parsed (or a typed error naming a line),
//! then every query fused as `tamis fuse` does, with rank- and score-based fusers.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tamis_core::fuse::{fuse, lists_for_query, parse_trec, FusionMethod, Normalization};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut runs = Vec::new();
    for (index, part) in text.split("\n--\n").take(4).enumerate() {
        match parse_trec(part) {
            Ok(run) => runs.push((format!("run{index}"), run)),
            Err(error) => {
                assert!(error.line >= 1 && error.line <= part.lines().count());
                return;
            }
        }
    }
    let queries: std::collections::BTreeSet<&String> =
        runs.iter().flat_map(|(_, run)| run.keys()).collect();
    for query in queries.into_iter().take(8) {
        let lists = lists_for_query(&runs, query);
        let mut candidates: Vec<&str> = lists
            .iter()
            .flat_map(|list| list.items.iter().map(|item| item.id.as_str()))
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        for (normalization, method) in [
            (Normalization::MinMax, FusionMethod::Mnz),
            (Normalization::Zmuv, FusionMethod::Sum),
            (Normalization::Sum, FusionMethod::Max),
            (Normalization::MinMax, FusionMethod::Rrf { k: 60.0 }),
            (Normalization::MinMax, FusionMethod::BordaFuse),
            (Normalization::MinMax, FusionMethod::Condorcet),
        ] {
            // Duplicate documents within a run are a typed error; anything else fuses.
            if let Ok(fused) = fuse(&lists, normalization, method) {
                assert_eq!(fused.len(), candidates.len(), "every candidate once");
                assert!(
                    fused.iter().all(|item| !item.score.is_nan()),
                    "no NaN score"
                );
            }
        }
    }
});
