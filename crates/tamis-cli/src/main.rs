//! `tamis`: the native command line of tamis.

mod bench;
mod eval;
mod input;
mod trec;

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use tamis_core::fuse::Normalization;
use tamis_core::{nearest_neighbours, Encoder};
use tamis_model::{ModelBundle, ModelError, TractEncoder};
use thiserror::Error;

use input::{read_texts, InputFormat};

/// Sample posts for `tamis neighbours` when no input is given.
const SAMPLE_POSTS: &str = include_str!("../samples/posts.txt");

#[derive(Debug, Error)]
pub enum CliError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("input line {line} is not valid UTF-8 (first bad byte at column {column})")]
    NotUtf8 { line: usize, column: usize },
    #[error("input line {line} is not a JSON string or an object with a `text` field: {reason}")]
    InvalidJsonLine { line: usize, reason: String },
    #[error("could not read benchmark texts from {path}: {reason}")]
    BenchData { path: String, reason: String },
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
    #[command(subcommand)]
    command: Command,
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
    /// Fuse TREC run files into one, written to standard output in TREC format.
    Fuse {
        /// The runs to fuse (`query Q0 document rank score tag` per line).
        #[arg(required = true, num_args = 2..)]
        runs: Vec<PathBuf>,
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
        /// Texts per model run in the batched settings.
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
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
enum EvalCommand {
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
            let encoder = TractEncoder::new(&ModelBundle::read_dir(&cli.model)?)?;
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
        Command::Neighbours { input, format, k } => {
            let texts = match input {
                Some(_) => load_texts(input, format)?,
                None => SAMPLE_POSTS.lines().map(str::to_string).collect(),
            };
            let encoder = TractEncoder::new(&ModelBundle::read_dir(&cli.model)?)?;
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
            method,
            norm,
            depth,
        } => {
            let method = bench::fuse::METHODS
                .iter()
                .find(|(name, _)| *name == method)
                .map(|(_, m)| *m)
                .ok_or_else(|| CliError::Io(format!("unknown fusion method `{method}`")))?;
            let normalization = parse_normalization(&norm)?;
            let runs = runs
                .iter()
                .map(|path| {
                    let name = path.file_stem().map_or_else(
                        || path.display().to_string(),
                        |s| s.to_string_lossy().into_owned(),
                    );
                    Ok((name, trec::read_trec(path)?))
                })
                .collect::<Result<Vec<_>, CliError>>()?;
            let queries: std::collections::BTreeSet<&String> =
                runs.iter().flat_map(|(_, run)| run.keys()).collect();
            let mut out = BufWriter::new(std::io::stdout().lock());
            for query in queries {
                let lists = trec::lists_for_query(&runs, query);
                let fused = tamis_core::fuse::fuse(&lists, normalization, method)
                    .map_err(|e| CliError::Io(format!("query {query}: {e}")))?;
                for (rank, item) in fused.iter().take(depth).enumerate() {
                    let line = trec::trec_line(query, &item.id, rank + 1, item.score, "tamis");
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
            let model_id = &bundle.manifest.files["model.onnx"].sha256[..16];
            let table = eval::fusion::eval_fusion(&collection, &encoder, model_id, depth, &out)?;
            print!("{table}");
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

fn parse_normalization(name: &str) -> Result<Normalization, CliError> {
    Ok(match name {
        "none" => Normalization::None,
        "min-max" => Normalization::MinMax,
        "max" => Normalization::Max,
        "sum" => Normalization::Sum,
        "zmuv" => Normalization::Zmuv,
        "rank" => Normalization::Rank,
        "borda" => Normalization::Borda,
        other => return Err(CliError::Io(format!("unknown normalization `{other}`"))),
    })
}

fn as_strs(texts: &[String]) -> Vec<&str> {
    texts.iter().map(String::as_str).collect()
}
