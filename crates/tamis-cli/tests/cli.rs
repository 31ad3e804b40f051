//! The `tamis` binary on the real prepared model.

use std::io::{ErrorKind, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use tamis_model::ModelBundle;

fn tamis(args: &[&str], stdin: &[u8]) -> Output {
    tamis_with_model(&ModelBundle::default_dir_for_tests(), args, stdin)
}

fn tamis_with_model(model: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tamis"))
        .arg("--model")
        .arg(model)
        .args(args)
        .env_remove("TAMIS_DATA")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tamis runs");
    // A command refused before it reads its input (an unknown backend) may exit before the
    // write ends: its status and its message are what such a test checks.
    match child.stdin.take().expect("stdin").write_all(stdin) {
        Err(error) if error.kind() != ErrorKind::BrokenPipe => panic!("write: {error}"),
        _ => {}
    }
    child.wait_with_output().expect("tamis exits")
}

#[test]
fn embed_writes_one_json_line_per_text() {
    let output = tamis(&["embed"], "first post\n\nthird post\n".as_bytes());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["line"], 2);
    assert_eq!(lines[1]["tokens"], 2, "the empty text is [CLS] [SEP]");
    assert_eq!(lines[0]["vector"].as_array().expect("vector").len(), 384);
    assert_eq!(lines[2]["truncated"], false);
}

#[test]
fn embed_reads_json_lines() {
    let output = tamis(
        &["embed", "--format", "jsonl"],
        b"{\"text\": \"a post\", \"id\": 1}\n\"another\"\n",
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 2);
}

#[test]
fn a_non_utf8_line_fails_with_its_number() {
    let output = tamis(&["embed"], b"fine\nbad \xff byte\n");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 2 is not valid UTF-8"), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing half-written");
}

#[test]
fn neighbours_pairs_similar_sample_posts() {
    let output = tamis(&["neighbours"], b"");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let lines: Vec<&str> = stdout.lines().collect();
    // Each sample post is followed by its nearest neighbour; the two insults find each other.
    let insult = lines
        .iter()
        .position(|l| l.starts_with("You are a pathetic idiot"))
        .expect("sample post");
    assert!(
        lines[insult + 1].contains("worthless troll"),
        "{}",
        lines[insult + 1]
    );
}

#[test]
fn a_missing_model_names_the_fix() {
    let output = Command::new(env!("CARGO_BIN_EXE_tamis"))
        .args(["--model", "/nonexistent/bundle", "neighbours"])
        .output()
        .expect("tamis runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("python3 scripts/prepare-model.py"),
        "{stderr}"
    );
}

fn write_run(name: &str, lines: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tamis-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, lines).expect("write run");
    path
}

#[test]
fn fuse_combines_trec_runs_per_query() {
    let bm25 = write_run(
        "bm25.trec",
        "1 Q0 a 1 9.0 bm25\n1 Q0 b 2 8.0 bm25\n2 Q0 c 1 1.0 bm25\n",
    );
    let dense = write_run("dense.trec", "1 Q0 b 1 0.9 dense\n1 Q0 c 2 0.1 dense\n");
    let output = tamis(
        &[
            "fuse",
            "--method",
            "rrf",
            bm25.to_str().unwrap(),
            dense.to_str().unwrap(),
        ],
        b"",
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let lines: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    // Query 1: b is in both runs, so RRF puts it first.
    assert_eq!((lines[0][0], lines[0][2], lines[0][3]), ("1", "b", "1"));
    let b_score: f64 = lines[0][4].parse().unwrap();
    assert!((b_score - (1.0 / 62.0 + 1.0 / 61.0)).abs() < 1e-9);
    // Query 2 exists in one run only and is still fused.
    assert_eq!((lines[3][0], lines[3][2]), ("2", "c"));
}

#[test]
fn fuse_names_the_bad_line_of_a_run() {
    let good = write_run("good.trec", "1 Q0 a 1 1.0 x\n");
    let bad = write_run("bad.trec", "1 Q0 a 1 1.0 x\n1 Q0 b 2 high x\n");
    let output = tamis(
        &["fuse", good.to_str().unwrap(), bad.to_str().unwrap()],
        b"",
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.trec line 2: the score is not a number"),
        "{stderr}"
    );
}

#[test]
fn classify_applies_the_sample_policy_to_the_sample_posts() {
    let output = tamis(&["classify", "--output", "json"], b"");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let verdicts: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json line")["verdict"].clone()
        })
        .collect();
    let posts: Vec<&str> = include_str!("../samples/posts.txt").lines().collect();
    assert_eq!(verdicts.len(), posts.len());
    let action_of = |needle: &str| {
        let index = posts
            .iter()
            .position(|p| p.contains(needle))
            .expect("sample post");
        verdicts[index]["action"].clone()
    };
    assert_eq!(action_of("FREE cruise"), "hide");
    assert_eq!(action_of("pathetic idiot"), "blur");
    assert_eq!(action_of("killer in the final chapter"), "warn");
    assert_eq!(action_of("meteor shower"), serde_json::Value::Null);
    // "negative" is unblocked in the sample policy: scored, never acting.
    assert_eq!(action_of("finale was a letdown"), serde_json::Value::Null);
}

#[test]
fn classify_names_the_bad_policy_field() {
    let path = std::env::temp_dir().join(format!("tamis-bad-policy-{}.json", std::process::id()));
    std::fs::write(
        &path,
        r#"{"version": 1, "mode": "binary", "categories": [{"name": "x", "examples": ["a"], "action": "nuke"}]}"#,
    )
    .unwrap();
    let output = tamis(&["classify", "--policy", path.to_str().unwrap()], b"");
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("categories[0].action"), "{message}");
}

#[test]
fn fuse_reads_and_writes_json() {
    let lists = br#"[{"name": "bm25", "items": [{"id": "a", "score": 9}, {"id": "b", "score": 8}]},
                     {"name": "dense", "weight": 2, "items": [{"id": "b"}, {"id": "c"}]}]"#;
    let output = tamis(
        &["fuse", "--json", "--method", "rrf", "--depth", "2"],
        lists,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let fused: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let fused = fused.as_array().expect("array");
    assert_eq!(fused.len(), 2, "--depth keeps 2");
    assert_eq!(fused[0]["id"], "b");
    assert_eq!(fused[0]["evidence"]["agreement"], 2);
    let output = tamis(
        &["fuse", "--json"],
        br#"[{"name": "x", "items": [{"id": "a", "score": 1}, {"id": "a", "score": 2}]}]"#,
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("same id"));
}

#[test]
fn the_backend_that_runs_is_reported_and_gives_the_same_verdicts() {
    let run = |backend: &str| {
        let output = tamis(&["--backend", backend, "classify", "--output", "json"], b"");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{stderr}");
        (String::from_utf8(output.stdout).expect("utf-8"), stderr)
    };
    let (on_cpu, cpu_says) = run("cpu");
    let (on_gpu, gpu_says) = run("gpu");
    let (_, auto_says) = run("auto");
    assert!(
        cpu_says.contains("backend: cpu, 1 thread (asked for the CPU)"),
        "{cpu_says}"
    );
    assert!(
        gpu_says.contains("backend: gpu (asked for the GPU)"),
        "{gpu_says}"
    );
    assert!(auto_says.contains("backend: "), "{auto_says}");
    let verdicts = |out: &str| -> Vec<(serde_json::Value, serde_json::Value)> {
        out.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line"))
            .map(|v| {
                (
                    v["verdict"]["labels"].clone(),
                    v["verdict"]["action"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(verdicts(&on_cpu), verdicts(&on_gpu));
    assert!(!verdicts(&on_cpu).is_empty());
}

#[test]
fn threads_give_the_same_verdicts_as_one() {
    // e5 splits every matrix product over the threads, MiniLM the runs of similar length.
    let e5 = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/e5-small-q4");
    for model in [ModelBundle::default_dir_for_tests(), e5] {
        let classify = |threads: &str, says: &str| {
            let args = [
                "--backend",
                "cpu",
                "--threads",
                threads,
                "classify",
                "--output",
                "json",
            ];
            let output = tamis_with_model(&model, &args, b"");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "{stderr}");
            assert!(stderr.contains(says), "{stderr}");
            String::from_utf8(output.stdout).expect("utf-8")
        };
        let one = classify("1", "backend: cpu, 1 thread (asked for the CPU)");
        let posts = include_str!("../samples/posts.txt").lines().count();
        assert_eq!(one.lines().count(), posts, "one verdict per sample post");
        // The same embeddings bit for bit, so the same scores to the last digit.
        let two = classify("2", "backend: cpu, 2 threads (asked for the CPU)");
        assert_eq!(two, one, "{}", model.display());
    }
}

#[test]
fn a_missing_data_folder_names_the_option_and_where_the_data_comes_from() {
    let missing = std::env::temp_dir().join(format!("tamis-no-data-{}", std::process::id()));
    let data = missing.to_str().expect("utf-8 path");
    for command in [
        &["eval", "classify", "--data", data][..],
        &["eval", "fusion", "--data", data],
        &["eval", "lists", "--data", data],
        &["prior", "fit", "--data", data],
        &["bench", "embed", "--data", data],
        &["bench", "lengths", "--data", data],
        &["bench", "timeline", "--data", data],
    ] {
        let output = tamis(command, b"");
        assert!(!output.status.success(), "{command:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("{data} does not exist")),
            "{command:?}: {stderr}"
        );
        assert!(stderr.contains("--data DIR (or TAMIS_DATA)"), "{stderr}");
        assert!(stderr.contains("not shipped with tamis"), "{stderr}");
        assert!(
            !stderr.contains("backend:"),
            "the data is checked before the model is loaded: {stderr}"
        );
    }
}

#[test]
fn a_data_folder_without_the_evaluation_s_files_names_the_missing_one() {
    let empty = std::env::temp_dir().join(format!("tamis-empty-data-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("temp dir");
    let output = tamis(
        &[
            "eval",
            "fusion",
            "--data",
            empty.to_str().expect("utf-8 path"),
        ],
        b"",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!(
            "{} does not exist",
            empty.join("ir/cranfield").display()
        )),
        "{stderr}"
    );
}

#[test]
fn an_unknown_fusion_method_is_named_before_any_run_is_read() {
    let output = tamis(
        &[
            "fuse",
            "--method",
            "magic",
            "no-such-run.trec",
            "nor-this.trec",
        ],
        b"",
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown fusion method `magic`; one of sum, mnz"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("cannot read"),
        "not an I/O error: {stderr}"
    );
}

#[test]
fn an_unreadable_run_is_an_io_error_naming_the_file() {
    let output = tamis(&["fuse", "no-such-run.trec", "nor-this.trec"], b"");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read no-such-run.trec"), "{stderr}");
}

#[test]
fn fuse_json_embeds_on_the_backend_asked_for() {
    let request = br#"{"query": "wing flutter", "method": "rrf", "lists": [
        {"name": "bm25", "items": [{"id": "a", "text": "flutter of a wing"}, {"id": "b", "text": "boundary layers"}]},
        {"name": "dense", "items": [{"id": "b", "text": "boundary layers"}, {"id": "a", "text": "flutter of a wing"}]}]}"#;
    let output = tamis(&["--backend", "cpu", "fuse", "--json"], request);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("backend: cpu, 1 thread (asked for the CPU)"),
        "{stderr}"
    );
    let fused: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(fused[0]["id"], "a", "the text about the query comes first");
    assert!(fused[0]["content"].is_number(), "content-aware: {fused}");
}

#[test]
fn an_unknown_backend_is_refused_with_the_names() {
    let output = tamis(&["--backend", "webgpu", "embed"], b"a post\n");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("[possible values: auto, cpu, gpu]"),
        "{stderr}"
    );
}
