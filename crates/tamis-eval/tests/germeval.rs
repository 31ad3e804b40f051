//! The German held-out split on the real GermEval file (`../shared/data/harmful/germeval`):
//! fixed, stratified, disjoint, and the same on every run.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use tamis_eval::germeval::{held_out_split, read_germeval, HeldOut};
use tamis_eval::harmful::Labeled;
use tamis_eval::EvalError;

fn data_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

fn offensive(split: &[Labeled]) -> usize {
    split.iter().filter(|l| l.harmful).count()
}

#[test]
fn the_split_holds_out_a_stratified_third_of_each_class() {
    let tweets = read_germeval(&data_root()).expect("the GermEval file lives in ../shared/data");
    assert_eq!(tweets.len(), 5009);
    assert_eq!(offensive(&tweets), 1688);
    let HeldOut { train, test } = held_out_split(&tweets);
    // One in three of each class, rounded up: 563 of 1,688 offensive, 1,107 of 3,321 other.
    assert_eq!((test.len(), offensive(&test)), (1670, 563));
    assert_eq!((train.len(), offensive(&train)), (3339, 1125));
    let test_texts: HashSet<&str> = test.iter().map(|l| l.text.as_str()).collect();
    assert!(train.iter().all(|l| !test_texts.contains(l.text.as_str())));
}

#[test]
fn the_split_is_the_same_on_every_run() {
    let tweets = read_germeval(&data_root()).unwrap();
    let texts = |split: &[Labeled]| split.iter().map(|l| l.text.clone()).collect::<Vec<_>>();
    let first = held_out_split(&tweets);
    let second = held_out_split(&tweets);
    assert_eq!(texts(&first.test), texts(&second.test));
    assert_eq!(texts(&first.train), texts(&second.train));
    // Pinned: the file lines (from 1) of the first ten test tweets. A change of seed or draw
    // would change the test set every published figure was measured on.
    let lines: Vec<usize> = first.test[..10]
        .iter()
        .map(|t| 1 + tweets.iter().position(|l| l.text == t.text).unwrap())
        .collect();
    assert_eq!(lines, [2, 3, 4, 5, 6, 8, 9, 11, 18, 19]);
}

#[test]
fn a_line_without_three_fields_or_with_an_unknown_label_names_its_line() {
    let root = std::env::temp_dir().join(format!("tamis-germeval-{}", std::process::id()));
    let dir = root.join("harmful/germeval");
    std::fs::create_dir_all(&dir).unwrap();
    for (content, expected) in [
        (
            "Guten Morgen\tOTHER\tOTHER\nnur Text\n",
            "line 2: 1 tab-separated fields",
        ),
        (
            "Guten Morgen\tOTHER\tOTHER\nDu Idiot\tINSULT\tINSULT\n",
            "line 2: coarse label `INSULT`",
        ),
    ] {
        std::fs::write(dir.join("train.tsv"), content).unwrap();
        let error = read_germeval(&root).unwrap_err();
        assert!(matches!(error, EvalError::Data { .. }), "{error}");
        assert!(error.to_string().contains(expected), "{error}");
    }
    std::fs::remove_dir_all(&root).unwrap();
}
