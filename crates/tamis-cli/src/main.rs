//! `tamis`: the native command line of tamis.

mod bench;
mod eval;
mod input;
mod prior;

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use tamis_core::classify::{Action, Classifier, ClassifierOptions, Policy, Reason, Verdict};
use tamis_core::fuse::{
    fuse_request, lists_for_query, parse_trec, trec_line, FusionMethod, FusionRequest,
    Normalization,
};
use tamis_core::{nearest_neighbours, Encoder};
use tamis_gpu::{AutoEncoder, BackendPreference};
use tamis_model::{ModelBundle, ModelError, TractEncoder};
use thiserror::Error;

use input::{read_texts, InputFormat};

/// Sample posts for `tamis neighbours` and `tamis classify` when no input is given.
const SAMPLE_POSTS: &str = include_str!("../samples/posts.txt");
/// The policy `tamis classify` uses when none is given.
const SAMPLE_POLICY: &str = include_str!("../samples/policy.json");

#[derive(Debug, Error)]
pub enum CliError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Gpu(#[from] tamis_gpu::GpuError),
    #[error("input line {line} is not valid UTF-8 (first bad byte at column {column})")]
    NotUtf8 { line: usize, column: usize },
    #[error("input line {line} is not a JSON string or an object with a `text` field: {reason}")]
    InvalidJsonLine { line: usize, reason: String },
    #[error("could not read benchmark texts from {path}: {reason}")]
    BenchData { path: String, reason: String },
    #[error(transparent)]
    Classify(#[from] tamis_core::classify::ClassifyError<ModelError>),
    #[error(transparent)]
    ClassifyOnBackend(#[from] tamis_core::classify::ClassifyError<tamis_gpu::GpuError>),
    #[error(transparent)]
    Policy(#[from] tamis_core::classify::PolicyError),
    #[error(transparent)]
    Priors(#[from] tamis_core::classify::PriorsError),
    #[error("{0}")]
    Io(String),
}

#[derive(Parser)]
#[command(
    name = "tamis",
    version,
    about = "On-device content filtering and ranking"
)]
struct Cli {
    /// The model bundle folder (made by `python3 scripts/prepare-model.py`).
    #[arg(
        long,
        global = true,
        env = "TAMIS_MODEL_DIR",
        default_value = "models/minilm-l6-int8"
    )]
    model: PathBuf,
    /// Where embed, classify and neighbours run: a hardware GPU when there is one (auto), the
    /// GPU even a software one, or the CPU. The backend that runs is printed on stderr.
    #[arg(long, global = true, value_enum, default_value_t = Backend::Auto)]
    backend: Backend,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Auto,
    Gpu,
    Cpu,
}

/// The encoder the user's `--backend` selects, saying on stderr which backend runs and why.
fn selected_encoder(backend: Backend, bundle: ModelBundle) -> Result<AutoEncoder, CliError> {
    let preference = match backend {
        Backend::Auto => BackendPreference::Auto,
        Backend::Gpu => BackendPreference::Gpu,
        Backend::Cpu => BackendPreference::Cpu,
    };
    let encoder = AutoEncoder::new(bundle, preference)?;
    let selection = encoder.selection();
    eprintln!("backend: {} ({})", selection.backend, selection.reason);
    Ok(encoder)
}

#[derive(Subcommand)]
enum Command {
    /// Embed texts and write one JSON line per text: {"line", "tokens", "truncated", "vector"}.
    Embed {
        /// Input file; standard input when absent.
        #[arg(long)]
        input: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = InputFormat::Lines)]
        format: InputFormat,
    },
    /// Show each text's nearest neighbours among the others (built-in sample posts by default).
    Neighbours {
        #[arg(long)]
        input: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = InputFormat::Lines)]
        format: InputFormat,
        /// Neighbours shown per text.
        #[arg(short, default_value_t = 1)]
        k: usize,
    },
    /// Classify texts under a policy (built-in sample policy and posts by default): one
    /// verdict per text, with scores, action and reason.
    Classify {
        /// The policy JSON (see samples/policy.json).
        #[arg(long)]
        policy: Option<PathBuf>,
        #[arg(long)]
        input: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = InputFormat::Lines)]
        format: InputFormat,
        /// Leave out the built-in priors of the standard categories.
        #[arg(long)]
        no_priors: bool,
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        output: ReportFormat,
    },
    /// Fuse TREC run files into one, written to standard output in TREC format.
    Fuse {
        /// The runs to fuse (`query Q0 document rank score tag` per line).
        #[arg(required_unless_present = "json", num_args = 2..)]
        runs: Vec<PathBuf>,
        /// Read one query's lists as JSON from standard input instead
        /// (`[{"name", "weight"?, "items": [{"id", "score"?, "rank"?, "text"?}]}]`), or a
        /// fusion request naming its own method (`{"lists", "query"?, "preferences"?,
        /// "method"?, "normalization"?}`, content-aware with a query or preferences), and
        /// write the fused items, with their evidence, as JSON.
        #[arg(long, conflicts_with = "runs")]
        json: bool,
        /// A ranx method name: sum, mnz, anz, max, min, med, gmnz, wsum, wmnz, rrf, isr,
        /// log_isr, logn_isr, rbc, bordafuse, w_bordafuse, condorcet, w_condorcet.
        #[arg(long, default_value = "rrf")]
        method: String,
        /// Score normalization: none, min-max, max, sum, zmuv, rank, borda.
        #[arg(long, default_value = "min-max")]
        norm: String,
        /// Documents kept per query.
        #[arg(long, default_value_t = 1000)]
        depth: usize,
    },
    /// Evaluations on the data in ../shared/data.
    Eval {
        #[command(subcommand)]
        what: EvalCommand,
    },
    /// Built-in priors of the standard categories.
    Prior {
        #[command(subcommand)]
        what: PriorCommand,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// ms per text at batch 1 and 32, model load time and peak memory.
    Embed {
        /// CSV file with a `text` column.
        #[arg(long, default_value = "../shared/data/harmful/sst2/validation.csv")]
        data: PathBuf,
        /// How many texts from the start of the file.
        #[arg(long, default_value_t = 256)]
        texts: usize,
        /// Texts per call in the batched settings (the encoder groups each call's texts in
        /// runs of similar length).
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
    },
    /// The GPU encoder (wgpu) beside the CPU one at batch 1 and 32, and its memory over many
    /// calls.
    Gpu {
        /// CSV file with a `text` column.
        #[arg(long, default_value = "../shared/data/harmful/sst2/validation.csv")]
        data: PathBuf,
        #[arg(long, default_value_t = 128)]
        texts: usize,
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        /// Embed calls over which GPU memory is sampled.
        #[arg(long, default_value_t = 10_000)]
        calls: usize,
    },
    /// ms per fusion for every classical fuser on synthetic lists.
    Fuse {
        #[arg(long, default_value_t = 10)]
        lists: usize,
        #[arg(long, default_value_t = 1000)]
        items: usize,
        #[arg(long, default_value_t = 100)]
        repeats: usize,
    },
}

#[derive(Subcommand)]
enum PriorCommand {
    /// Fit the priors on the train.csv splits and write them for the current model.
    Fit {
        /// The folder with spam/, textdetox/ and sst2/.
        #[arg(long, default_value = "../shared/data/harmful")]
        data: PathBuf,
        #[arg(long, default_value = tamis_model::DEFAULT_PRIORS_PATH)]
        out: PathBuf,
        /// Where embeddings of the training texts are cached.
        #[arg(long, default_value = "target/eval/harmful")]
        cache: PathBuf,
    },
}

#[derive(Subcommand)]
enum EvalCommand {
    /// The personalized classifier on ../shared/data/harmful: k-shot benchmark, multi-task,
    /// definitions, personalization, obfuscation and Mastodon; markdown tables and an SVG plot.
    Classify {
        /// The folder with spam/, textdetox/, sst2/ and mastodon/.
        #[arg(long, default_value = "../shared/data/harmful")]
        data: PathBuf,
        /// Where the plot of F1 against shots goes.
        #[arg(long, default_value = "target/eval/harmful/f1-by-shots.svg")]
        plot: PathBuf,
        /// Where embeddings are cached between runs.
        #[arg(long, default_value = "target/eval/harmful")]
        cache: PathBuf,
        /// Sections to run (all by default).
        #[arg(long, value_enum, num_args = 1..)]
        only: Vec<ClassifySection>,
    },
    /// BM25, TF-IDF and dense retrieval on Cranfield, and every classical fuser of their runs.
    Fusion {
        /// The folder with cran.all.1400, cran.qry and cranqrel.
        #[arg(long, default_value = "../shared/data/ir/cranfield")]
        data: PathBuf,
        /// Documents kept per query and run.
        #[arg(long, default_value_t = 100)]
        depth: usize,
        /// Where the TREC run files go.
        #[arg(long, default_value = "target/eval/cranfield")]
        out: PathBuf,
    },
    /// The demo page's fusion data: the three retrievers' lists for the first Cranfield
    /// queries, with the document texts and judgments, as JSON.
    Lists {
        #[arg(long, default_value = "../shared/data/ir/cranfield")]
        data: PathBuf,
        /// Queries kept, from the first.
        #[arg(long, default_value_t = 25)]
        queries: usize,
        /// Documents kept per query and retriever.
        #[arg(long, default_value_t = 10)]
        depth: usize,
        /// Where the document embeddings are cached.
        #[arg(long, default_value = "target/eval/cranfield")]
        cache: PathBuf,
        /// The JSON file written.
        #[arg(long, default_value = "target/eval/cranfield/demo-lists.json")]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ClassifySection {
    Benchmark,
    MultiTask,
    Definitions,
    Personalization,
    Obfuscation,
    Mastodon,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Table,
    Json,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Embed { input, format } => {
            let texts = load_texts(input, format)?;
            let encoder = selected_encoder(cli.backend, ModelBundle::read_dir(&cli.model)?)?;
            let embeddings = encoder.embed(&as_strs(&texts))?;
            let mut out = BufWriter::new(std::io::stdout().lock());
            for (index, embedding) in embeddings.iter().enumerate() {
                let line = serde_json::json!({
                    "line": index + 1,
                    "tokens": embedding.tokens,
                    "truncated": embedding.truncated,
                    "vector": embedding.vector,
                });
                writeln!(out, "{line}").map_err(|e| CliError::Io(e.to_string()))?;
            }
            out.flush().map_err(|e| CliError::Io(e.to_string()))
        }
        Command::Classify {
            policy,
            input,
            format,
            no_priors,
            output,
        } => {
            let policy = match policy {
                Some(path) => {
                    Policy::from_json(&std::fs::read_to_string(&path).map_err(|e| {
                        CliError::Io(format!("cannot read {}: {e}", path.display()))
                    })?)?
                }
                None => Policy::from_json(SAMPLE_POLICY)?,
            };
            let texts = match input {
                Some(_) => load_texts(input, format)?,
                None => SAMPLE_POSTS.lines().map(str::to_string).collect(),
            };
            let bundle = ModelBundle::read_dir(&cli.model)?;
            let priors = if no_priors {
                None
            } else {
                Some(std::sync::Arc::new(tamis_model::default_priors(&bundle)?))
            };
            let encoder = selected_encoder(cli.backend, bundle)?;
            let mut classifier = Classifier::new(policy, priors, ClassifierOptions::default())?;
            let verdicts = classifier.classify(&encoder, &as_strs(&texts))?;
            let mut out = BufWriter::new(std::io::stdout().lock());
            for (index, (text, verdict)) in texts.iter().zip(&verdicts).enumerate() {
                let line = match output {
                    ReportFormat::Json => {
                        serde_json::json!({"line": index + 1, "verdict": verdict}).to_string()
                    }
                    ReportFormat::Table => verdict_line(text, verdict),
                };
                writeln!(out, "{line}").map_err(|e| CliError::Io(e.to_string()))?;
            }
            out.flush().map_err(|e| CliError::Io(e.to_string()))
        }
        Command::Neighbours { input, format, k } => {
            let texts = match input {
                Some(_) => load_texts(input, format)?,
                None => SAMPLE_POSTS.lines().map(str::to_string).collect(),
            };
            let encoder = selected_encoder(cli.backend, ModelBundle::read_dir(&cli.model)?)?;
            let vectors: Vec<Vec<f32>> = encoder
                .embed(&as_strs(&texts))?
                .into_iter()
                .map(|e| e.vector)
                .collect();
            for (index, text) in texts.iter().enumerate() {
                println!("{text}");
                for neighbour in nearest_neighbours(&vectors[index], &vectors, k, Some(index)) {
                    println!(
                        "    {:.3}  {}",
                        neighbour.similarity, texts[neighbour.index]
                    );
                }
            }
            Ok(())
        }
        Command::Bench {
            what:
                BenchCommand::Embed {
                    data,
                    texts,
                    batch_size,
                    format,
                },
        } => {
            let texts = bench::embed::read_csv_texts(&data, texts)?;
            let report = bench::embed::bench_embed(&cli.model, &texts, batch_size)?;
            match format {
                ReportFormat::Table => print!("{report}"),
                ReportFormat::Json => println!(
                    "{}",
                    serde_json::to_string(&report).map_err(|e| CliError::Io(e.to_string()))?
                ),
            }
            Ok(())
        }
        Command::Fuse {
            runs,
            json,
            method,
            norm,
            depth,
        } => {
            if json {
                let input: serde_json::Value = serde_json::from_reader(std::io::stdin().lock())
                    .map_err(|e| CliError::Io(format!("standard input is not JSON: {e}")))?;
                let request = if input.is_array() {
                    serde_json::json!({"lists": input, "method": method, "normalization": norm})
                } else {
                    input
                };
                let request: FusionRequest = serde_json::from_value(request).map_err(|e| {
                    CliError::Io(format!(
                        "standard input is neither ranked lists nor a fusion request: {e}"
                    ))
                })?;
                let encoder = TractEncoder::from_bundle(ModelBundle::read_dir(&cli.model)?)?;
                let mut fused =
                    fuse_request(&encoder, &request).map_err(|e| CliError::Io(e.to_string()))?;
                fused.truncate(depth);
                println!(
                    "{}",
                    serde_json::to_string(&fused).map_err(|e| CliError::Io(e.to_string()))?
                );
                return Ok(());
            }
            let method = FusionMethod::from_name(&method)
                .ok_or_else(|| CliError::Io(format!("unknown fusion method `{method}`")))?;
            let normalization = Normalization::from_name(&norm)
                .ok_or_else(|| CliError::Io(format!("unknown normalization `{norm}`")))?;
            let runs = runs
                .iter()
                .map(|path| {
                    let name = path.file_stem().map_or_else(
                        || path.display().to_string(),
                        |s| s.to_string_lossy().into_owned(),
                    );
                    let text = std::fs::read_to_string(path).map_err(|e| {
                        CliError::Io(format!("cannot read {}: {e}", path.display()))
                    })?;
                    let run = parse_trec(&text)
                        .map_err(|e| CliError::Io(format!("{} {e}", path.display())))?;
                    Ok((name, run))
                })
                .collect::<Result<Vec<_>, CliError>>()?;
            let queries: std::collections::BTreeSet<&String> =
                runs.iter().flat_map(|(_, run)| run.keys()).collect();
            let mut out = BufWriter::new(std::io::stdout().lock());
            for query in queries {
                let lists = lists_for_query(&runs, query);
                let fused = tamis_core::fuse::fuse(&lists, normalization, method)
                    .map_err(|e| CliError::Io(format!("query {query}: {e}")))?;
                for (rank, item) in fused.iter().take(depth).enumerate() {
                    let line = trec_line(query, &item.id, rank + 1, item.score, "tamis");
                    writeln!(out, "{line}").map_err(|e| CliError::Io(e.to_string()))?;
                }
            }
            out.flush().map_err(|e| CliError::Io(e.to_string()))
        }
        Command::Eval {
            what: EvalCommand::Fusion { data, depth, out },
        } => {
            let collection = eval::cranfield::read_cranfield(&data)?;
            let bundle = ModelBundle::read_dir(&cli.model)?;
            let encoder = TractEncoder::new(&bundle)?;
            let model_id = &bundle.model_sha256()[..16];
            let table = eval::fusion::eval_fusion(&collection, &encoder, model_id, depth, &out)?;
            print!("{table}");
            Ok(())
        }
        Command::Eval {
            what:
                EvalCommand::Lists {
                    data,
                    queries,
                    depth,
                    cache,
                    out,
                },
        } => {
            let collection = eval::cranfield::read_cranfield(&data)?;
            let bundle = ModelBundle::read_dir(&cli.model)?;
            let encoder = TractEncoder::new(&bundle)?;
            let model_id = &bundle.model_sha256()[..16];
            let lists = eval::fusion::retriever_lists(
                &collection,
                &encoder,
                model_id,
                queries,
                depth,
                &cache,
            )?;
            std::fs::write(&out, lists.to_string())
                .map_err(|e| CliError::Io(format!("cannot write {}: {e}", out.display())))?;
            println!("wrote {}", out.display());
            Ok(())
        }
        Command::Eval {
            what:
                EvalCommand::Classify {
                    data,
                    plot,
                    cache,
                    only,
                },
        } => {
            let tasks = eval::harmful::read_tasks(&data)?;
            let bundle = ModelBundle::read_dir(&cli.model)?;
            let encoder = TractEncoder::new(&bundle)?;
            let priors = std::sync::Arc::new(tamis_model::default_priors(&bundle)?);
            let cached = open_cache(&encoder, &bundle, &cache);
            let result = run_classify_eval(&cached, priors, &tasks, &data, &plot, &only);
            cached.save()?;
            print!("{}", result?);
            Ok(())
        }
        Command::Prior {
            what: PriorCommand::Fit { data, out, cache },
        } => {
            let tasks = eval::harmful::read_tasks(&data)?;
            let bundle = ModelBundle::read_dir(&cli.model)?;
            let encoder = TractEncoder::new(&bundle)?;
            let model_sha256 = &bundle.model_sha256();
            let cached = open_cache(&encoder, &bundle, &cache);
            let fitted = prior::fit_priors(&tasks, &cached, model_sha256);
            cached.save()?;
            let (priors, report) = fitted?;
            let bytes = priors.to_bytes();
            std::fs::write(&out, &bytes)
                .map_err(|e| CliError::Io(format!("cannot write {}: {e}", out.display())))?;
            print!("{report}");
            println!("wrote {} ({} bytes)", out.display(), bytes.len());
            Ok(())
        }
        Command::Bench {
            what:
                BenchCommand::Gpu {
                    data,
                    texts,
                    batch_size,
                    calls,
                },
        } => {
            let texts = bench::embed::read_csv_texts(&data, texts)?;
            print!(
                "{}",
                bench::gpu::bench_gpu(&cli.model, &texts, batch_size, calls)?
            );
            Ok(())
        }
        Command::Bench {
            what:
                BenchCommand::Fuse {
                    lists,
                    items,
                    repeats,
                },
        } => {
            print!("{}", bench::fuse::bench_fuse(lists, items, repeats)?);
            Ok(())
        }
    }
}

/// The evaluation embedding cache of this model under `dir`.
fn open_cache<'a>(
    encoder: &'a TractEncoder,
    bundle: &ModelBundle,
    dir: &std::path::Path,
) -> eval::store::CachedEncoder<'a> {
    let model_sha256 = &bundle.model_sha256();
    eval::store::CachedEncoder::open(
        encoder,
        &dir.join(format!("{}.embeddings", &model_sha256[..16])),
    )
}

fn run_classify_eval(
    encoder: &eval::store::CachedEncoder,
    priors: std::sync::Arc<tamis_core::classify::Priors>,
    tasks: &[eval::harmful::Task],
    data: &std::path::Path,
    plot: &std::path::Path,
    only: &[ClassifySection],
) -> Result<String, CliError> {
    let evaluation = eval::classify::Evaluation::new(encoder, priors, tasks)?;
    let wanted = |section| only.is_empty() || only.contains(&section);
    let mut out = String::new();
    if wanted(ClassifySection::Benchmark) {
        let svg = evaluation.benchmark(&mut out)?;
        if let Some(parent) = plot.parent() {
            std::fs::create_dir_all(parent).map_err(|e| CliError::Io(e.to_string()))?;
        }
        std::fs::write(plot, svg)
            .map_err(|e| CliError::Io(format!("cannot write {}: {e}", plot.display())))?;
        out.push_str(&format!("\nPlot: {}\n", plot.display()));
    }
    if wanted(ClassifySection::MultiTask) {
        evaluation.multi_task(&mut out)?;
    }
    if wanted(ClassifySection::Definitions) {
        evaluation.definitions_only(&mut out)?;
    }
    if wanted(ClassifySection::Personalization) {
        evaluation.personalization(&mut out)?;
    }
    if wanted(ClassifySection::Obfuscation) {
        evaluation.obfuscation(&mut out)?;
    }
    if wanted(ClassifySection::Mastodon) {
        evaluation.mastodon(data, &mut out)?;
    }
    Ok(out)
}

fn load_texts(path: Option<PathBuf>, format: InputFormat) -> Result<Vec<String>, CliError> {
    match path {
        Some(path) => {
            let file = std::fs::File::open(&path)
                .map_err(|e| CliError::Io(format!("cannot open {}: {e}", path.display())))?;
            read_texts(file, format)
        }
        None => read_texts(std::io::stdin().lock(), format),
    }
}

/// One readable line: action, decided labels with scores, the text, and the reason.
fn verdict_line(text: &str, verdict: &Verdict) -> String {
    let action = verdict.action.map_or("show", |a| match a {
        Action::Warn => "warn",
        Action::Blur => "blur",
        Action::Hide => "hide",
    });
    let labels: Vec<String> = verdict
        .scores
        .iter()
        .filter(|s| s.matched)
        .map(|s| format!("{} {:.2}", s.category, s.score))
        .collect();
    let excerpt: String = text.chars().take(70).collect();
    let ellipsis = if excerpt.len() < text.len() {
        "…"
    } else {
        ""
    };
    let reason = match &verdict.reason {
        Some(Reason::Example {
            text, similarity, ..
        }) => {
            format!("nearest example ({similarity:.2}): {text}")
        }
        Some(Reason::Definition { similarity, .. }) => {
            format!("closest to the definition ({similarity:.2})")
        }
        Some(Reason::Keep {
            text, similarity, ..
        }) => {
            format!("kept, like ({similarity:.2}): {text}")
        }
        None => String::new(),
    };
    if labels.is_empty() {
        format!("{action:<5} {excerpt}{ellipsis}")
    } else {
        format!(
            "{action:<5} {excerpt}{ellipsis}\n      [{}] {reason}",
            labels.join(", ")
        )
    }
}

fn as_strs(texts: &[String]) -> Vec<&str> {
    texts.iter().map(String::as_str).collect()
}
