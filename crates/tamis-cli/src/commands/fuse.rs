//! `tamis fuse`: TREC run files fused into one, or one query's lists as JSON.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::Args;
use tamis_core::fuse::{
    fuse, fuse_request, lists_for_query, parse_trec, trec_line, FusionMethod, FusionRequest,
    FusionRequestError, Normalization, TrecRun,
};
use tamis_gpu::GpuError;

use super::{print_lines, Globals};
use crate::error::{CliError, IoAction};

#[derive(Args)]
pub struct FuseArgs {
    /// The runs to fuse (`query Q0 document rank score tag` per line).
    #[arg(required_unless_present = "json", num_args = 2..)]
    runs: Vec<PathBuf>,
    /// Read one query's lists as JSON from standard input instead
    /// (`[{"name", "weight"?, "items": [{"id", "score"?, "rank"?, "text"?}]}]`), or a
    /// fusion request naming its own method (`{"lists", "query"?, "preferences"?,
    /// "method"?, "normalization"?}`, content-aware with a query or preferences, embedded on
    /// the `--backend`), and write the fused items, with their evidence, as JSON.
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
}

pub fn run(globals: &Globals, args: FuseArgs) -> Result<(), CliError> {
    if args.json {
        fuse_json(globals, &args)
    } else {
        fuse_runs(&args)
    }
}

/// One query's lists or fusion request from standard input, fused, as JSON.
fn fuse_json(globals: &Globals, args: &FuseArgs) -> Result<(), CliError> {
    let input: serde_json::Value =
        serde_json::from_reader(std::io::stdin().lock()).map_err(CliError::StdinNotJson)?;
    let request = if input.is_array() {
        serde_json::json!({"lists": input, "method": args.method, "normalization": args.norm})
    } else {
        input
    };
    let request: FusionRequest =
        serde_json::from_value(request).map_err(CliError::NotAFusionRequest)?;
    let encoder = globals.encoder(globals.bundle()?)?;
    let mut fused = fuse_request(&encoder, &request)?;
    fused.truncate(args.depth);
    print_lines([serde_json::to_string(&fused).map_err(CliError::Json)?])
}

/// The TREC runs fused query by query, in TREC format.
fn fuse_runs(args: &FuseArgs) -> Result<(), CliError> {
    // Checked before any run is read: a typo in a name costs no reading.
    let method = FusionMethod::from_name(&args.method)
        .ok_or_else(|| FusionRequestError::<GpuError>::UnknownMethod(args.method.clone()))?;
    let normalization = Normalization::from_name(&args.norm)
        .ok_or_else(|| FusionRequestError::<GpuError>::UnknownNormalization(args.norm.clone()))?;
    let runs = args
        .runs
        .iter()
        .map(|path| read_run(path))
        .collect::<Result<Vec<_>, CliError>>()?;
    let queries: BTreeSet<&String> = runs.iter().flat_map(|(_, run)| run.keys()).collect();
    let mut lines = Vec::new();
    for query in queries {
        let lists = lists_for_query(&runs, query);
        let fused = fuse(&lists, normalization, method).map_err(|source| CliError::FuseQuery {
            query: query.clone(),
            source,
        })?;
        lines.extend(
            fused
                .iter()
                .take(args.depth)
                .enumerate()
                .map(|(rank, item)| trec_line(query, &item.id, rank + 1, item.score, "tamis")),
        );
    }
    print_lines(lines)
}

/// A run file, named after its file stem.
fn read_run(path: &Path) -> Result<(String, TrecRun), CliError> {
    let name = path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io(IoAction::Read, path, e))?;
    let run = parse_trec(&text).map_err(|source| CliError::InvalidTrecRun {
        path: path.to_path_buf(),
        source,
    })?;
    Ok((name, run))
}
