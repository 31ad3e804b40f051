//! `tamis eval`: the evaluations of the `tamis-eval` crate on the `--data` folder, run on the
//! `--backend` encoder; this module only reads the arguments and writes the results.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand, ValueEnum};
use tamis_core::classify::Priors;
use tamis_core::{Embedding, Encoder};
use tamis_eval::classify::{side_by_side, Evaluation, Headline};
use tamis_eval::fusion::DenseModel;
use tamis_eval::germeval::GermanTasks;
use tamis_eval::store::CachedEncoder;
use tamis_eval::{cranfield, fusion, harmful, page, EvalEncoder, EvalError};
use tamis_gpu::{AutoEncoder, GpuError};
use tamis_model::{CpuEncoder, ModelBundle, TextRole};

use super::{print_text, Globals};
use crate::data::DataRoot;
use crate::error::{CliError, IoAction};

/// The command that regenerates docs/accuracy.md.
const CLASSIFY_COMMAND: &str = "cargo run --release -p tamis-cli -- eval classify";
/// The command that regenerates docs/fusion.md.
const FUSION_COMMAND: &str = "cargo run --release -p tamis-cli -- eval fusion";

#[derive(Subcommand)]
pub enum EvalCommand {
    /// The personalized classifier on the data's harmful/: k-shot benchmark, renamed (a
    /// user's own) categories, multi-task, definitions, personalization, obfuscation,
    /// Mastodon and German; markdown tables for each model, under a summary of the models
    /// side by side (printed, and written to the --page file when every section runs on the
    /// full test sets) and an SVG plot per model.
    Classify {
        #[command(flatten)]
        data: DataRoot,
        /// The page the tables are written to.
        #[arg(long, default_value = "docs/accuracy.md")]
        page: PathBuf,
        /// Where the plot of F1 against shots goes; each model's file name ends in its name
        /// (`f1-by-shots-minilm-l6-int8.svg`).
        #[arg(long, default_value = "target/eval/harmful/f1-by-shots.svg")]
        plot: PathBuf,
        #[command(flatten)]
        models: Models,
        /// Where embeddings are cached between runs.
        #[arg(long, default_value = "target/eval/harmful")]
        cache: PathBuf,
        /// Sections to run (all by default).
        #[arg(long, value_enum, num_args = 1..)]
        only: Vec<ClassifySection>,
        /// Keep only this many test texts per dataset, spread evenly over its test set: a
        /// cheaper run while iterating (the page is then not written).
        #[arg(long)]
        test_limit: Option<usize>,
    },
    /// BM25, TF-IDF and dense retrieval on the data's ir/cranfield, and every classical fuser
    /// of their runs; each model as the dense retriever and the content scorer, its tables
    /// under a summary of the models side by side (printed, and written to the --page file).
    Fusion {
        #[command(flatten)]
        data: DataRoot,
        /// The page the tables are written to.
        #[arg(long, default_value = "docs/fusion.md")]
        page: PathBuf,
        #[command(flatten)]
        models: Models,
        /// Documents kept per query and run.
        #[arg(long, default_value_t = 100)]
        depth: usize,
        /// Where the document embeddings are cached (one file per model) and the TREC run
        /// files go (a folder per model).
        #[arg(long, default_value = "target/eval/cranfield")]
        out: PathBuf,
    },
    /// The demo page's fusion data: the three retrievers' lists for the first Cranfield
    /// queries, with the document texts and judgments, as JSON.
    Lists {
        #[command(flatten)]
        data: DataRoot,
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

/// `--models`, of every evaluation that compares models.
#[derive(Args)]
pub struct Models {
    /// The models evaluated, side by side, each a bundle name or folder as `--model` takes
    /// (`--models minilm-l6-int8,e5-small-q4`); `--model`'s alone by default.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    models: Vec<PathBuf>,
}

impl Models {
    /// Each model's bundle, all read and checked before the first model's long run.
    fn bundles(&self, globals: &Globals) -> Result<Vec<ModelBundle>, CliError> {
        if self.models.is_empty() {
            return Ok(vec![globals.bundle()?]);
        }
        self.models
            .iter()
            .map(|model| {
                Globals {
                    model: model.clone(),
                    ..*globals
                }
                .bundle()
            })
            .collect()
    }

    /// `command` (which regenerates a page) with these models.
    fn command(&self, command: &str) -> String {
        if self.models.is_empty() {
            return command.to_string();
        }
        let names: Vec<String> = self
            .models
            .iter()
            .map(|m| m.display().to_string())
            .collect();
        format!("{command} --models {}", names.join(","))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClassifySection {
    Benchmark,
    Renamed,
    MultiTask,
    Definitions,
    Personalization,
    SinglePost,
    Obfuscation,
    Mastodon,
    German,
}

pub fn run(globals: &Globals, command: EvalCommand) -> Result<(), CliError> {
    match command {
        EvalCommand::Classify {
            data,
            page,
            plot,
            models,
            cache,
            only,
            test_limit,
        } => {
            let data = data.dir_with(harmful::HARMFUL_DIR)?;
            let mut tasks = harmful::read_tasks(data)?;
            let toxic = tasks
                .iter()
                .find(|task| task.category == "toxic")
                .ok_or(tamis_eval::EvalError::MissingTask("toxic"))?;
            let mut german = GermanTasks::read(data, toxic)?;
            if let Some(limit) = test_limit {
                tasks.iter_mut().for_each(|task| task.limit_test(limit));
                german.limit_test(limit);
            }
            let sources = ClassifySources {
                tasks: &tasks,
                german: &german,
                data,
                only: &only,
            };
            // Every bundle and its priors are checked before the first model's long run.
            let bundles = models
                .bundles(globals)?
                .into_iter()
                .map(|bundle| {
                    let priors = evaluation_priors(&bundle)?;
                    Ok((bundle, priors))
                })
                .collect::<Result<Vec<_>, CliError>>()?;
            let mut measured = Vec::new();
            let mut body = String::new();
            for (bundle, priors) in bundles {
                let (name, tables, headlines) =
                    classify_model(globals, bundle, priors, &sources, &plot, &cache)?;
                body.push_str(&format!("## {name}\n\n{tables}"));
                measured.push((name, headlines));
            }
            let tables = format!("{}{body}", side_by_side(&measured));
            if only.is_empty() && test_limit.is_none() {
                let command = models.command(CLASSIFY_COMMAND);
                page::write_page(&page, "Accuracy", &command, &tables)?;
                eprintln!("wrote {}", page.display());
            }
            print_text(&tables)
        }
        EvalCommand::Fusion {
            data,
            page,
            models,
            depth,
            out,
        } => {
            let collection = cranfield::read_cranfield(data.dir_with(cranfield::CRANFIELD_DIR)?)?;
            let mut reports = Vec::new();
            for bundle in models.bundles(globals)? {
                let name = bundle.manifest.id.clone();
                let started = std::time::Instant::now();
                let report = with_dense_model(globals, bundle, |model| {
                    fusion::eval_fusion(&collection, model, depth, &out)
                })?;
                eprintln!("{name}: {:.0} s", started.elapsed().as_secs_f64());
                reports.push((name, report));
            }
            let mut tables = fusion::side_by_side(&reports).to_string();
            for (name, report) in &reports {
                tables.push_str(&format!("## {name}\n\n{}", report.tables));
            }
            page::write_page(
                &page,
                "Rank fusion",
                &models.command(FUSION_COMMAND),
                &tables,
            )?;
            eprintln!("wrote {}", page.display());
            print_text(&tables)
        }
        EvalCommand::Lists {
            data,
            queries,
            depth,
            cache,
            out,
        } => {
            let collection = cranfield::read_cranfield(data.dir_with(cranfield::CRANFIELD_DIR)?)?;
            let lists = with_dense_model(globals, globals.bundle()?, |model| {
                fusion::retriever_lists(&collection, model, queries, depth, &cache)
            })?;
            std::fs::write(&out, lists.to_string())
                .map_err(|e| CliError::io(IoAction::Write, &out, e))?;
            print_text(&format!("wrote {}\n", out.display()))
        }
    }
}

/// Runs `evaluate` on `bundle`'s model as a dense retriever: the queries on the `--backend`
/// encoder, the documents on it too or, for a model with a passage prefix of its own (e5),
/// on a CPU encoder that puts that prefix before each document.
fn with_dense_model<T>(
    globals: &Globals,
    bundle: ModelBundle,
    evaluate: impl FnOnce(&DenseModel<AutoEncoder, DocumentEncoder>) -> Result<T, EvalError>,
) -> Result<T, CliError> {
    let manifest = &bundle.manifest;
    let passages = (manifest.prefix(TextRole::Passage) != manifest.prefix(TextRole::Query))
        .then(|| CpuEncoder::for_role(&bundle, TextRole::Passage))
        .transpose()?;
    let name = manifest.id.clone();
    let checksum = bundle.model_sha256()[..16].to_string();
    let queries = globals.encoder(bundle)?;
    let documents = match passages {
        Some(encoder) => DocumentEncoder::Passages(encoder),
        None => DocumentEncoder::AsQueries(&queries),
    };
    let model = DenseModel {
        queries: &queries,
        documents: &documents,
        name,
        checksum,
    };
    Ok(evaluate(&model)?)
}

/// The encoder of a retrieval evaluation's documents (see [`with_dense_model`]).
enum DocumentEncoder<'a> {
    /// The queries' encoder: the model has no passage prefix.
    AsQueries(&'a AutoEncoder),
    /// A CPU encoder with the model's passage prefix (the `--backend` encoder puts the query
    /// prefix before every text).
    Passages(CpuEncoder),
}

impl Encoder for DocumentEncoder<'_> {
    type Error = GpuError;

    fn dimension(&self) -> usize {
        match self {
            Self::AsQueries(encoder) => encoder.dimension(),
            Self::Passages(encoder) => encoder.dimension(),
        }
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, GpuError> {
        match self {
            Self::AsQueries(encoder) => encoder.embed(texts),
            Self::Passages(encoder) => Ok(encoder.embed(texts)?),
        }
    }
}

/// The evaluation embedding cache file of this model under `dir`.
pub fn cache_file(bundle: &ModelBundle, dir: &Path) -> PathBuf {
    dir.join(format!("{}.embeddings", &bundle.model_sha256()[..16]))
}

/// What `tamis eval classify` evaluates every model on.
struct ClassifySources<'a> {
    tasks: &'a [harmful::Task],
    german: &'a GermanTasks,
    data: &'a Path,
    only: &'a [ClassifySection],
}

/// The built-in priors of `bundle`'s model: the evaluation compares the classifier with and
/// without them, so a model without any is an error.
fn evaluation_priors(bundle: &ModelBundle) -> Result<Arc<Priors>, CliError> {
    tamis_model::built_in_priors(bundle)?
        .map(Arc::new)
        .ok_or_else(|| CliError::NoPriors(bundle.manifest.id.clone()))
}

/// One model's evaluation: its name, its tables and its headline figures. Its embeddings are
/// cached in its own file under `cache`.
fn classify_model(
    globals: &Globals,
    bundle: ModelBundle,
    priors: Arc<Priors>,
    sources: &ClassifySources,
    plot: &Path,
    cache: &Path,
) -> Result<(String, String, Vec<Headline>), CliError> {
    let name = bundle.manifest.id.clone();
    let cache_file = cache_file(&bundle, cache);
    let encoder = globals.encoder(bundle)?;
    let cached = CachedEncoder::open(&encoder, &cache_file);
    let plot = plot.with_file_name(format!(
        "{}-{name}.svg",
        plot.file_stem().unwrap_or_default().to_string_lossy()
    ));
    let started = std::time::Instant::now();
    let result = classify_sections(&cached, priors, sources, &name, &plot);
    cached.save()?;
    let (tables, headlines) = result?;
    eprintln!("{name}: {:.0} s", started.elapsed().as_secs_f64());
    Ok((name, tables, headlines))
}

/// The sections of `tamis eval classify` asked for (all when `only` is empty), as markdown,
/// and their headline figures.
fn classify_sections<E: EvalEncoder>(
    encoder: &E,
    priors: Arc<Priors>,
    sources: &ClassifySources,
    model: &str,
    plot: &Path,
) -> Result<(String, Vec<Headline>), CliError> {
    let wanted = |section| sources.only.is_empty() || sources.only.contains(&section);
    let mut out = String::new();
    let mut headlines = Vec::new();
    let english_sections = [
        ClassifySection::Benchmark,
        ClassifySection::Renamed,
        ClassifySection::MultiTask,
        ClassifySection::Definitions,
        ClassifySection::Personalization,
        ClassifySection::SinglePost,
        ClassifySection::Obfuscation,
        ClassifySection::Mastodon,
    ];
    if english_sections.into_iter().any(wanted) {
        let evaluation = Evaluation::new(encoder, priors.clone(), sources.tasks, model)?;
        if wanted(ClassifySection::Benchmark) {
            let svg = evaluation.benchmark(&mut out)?;
            if let Some(parent) = plot.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| CliError::io(IoAction::CreateFolder, parent, e))?;
            }
            std::fs::write(plot, svg).map_err(|e| CliError::io(IoAction::Write, plot, e))?;
            out.push_str(&format!("\nPlot: {}\n", plot.display()));
        }
        if wanted(ClassifySection::Renamed) {
            evaluation.renamed(&mut out)?;
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
        if wanted(ClassifySection::SinglePost) {
            evaluation.single_post(&mut out)?;
        }
        if wanted(ClassifySection::Obfuscation) {
            evaluation.obfuscation(&mut out)?;
        }
        if wanted(ClassifySection::Mastodon) {
            evaluation.mastodon(sources.data, &mut out)?;
        }
        headlines.extend(evaluation.headlines());
    }
    if wanted(ClassifySection::German) {
        let german = sources.german.evaluation(encoder, priors, model)?;
        german.section(&mut out)?;
        headlines.extend(german.headlines());
    }
    Ok((out, headlines))
}
