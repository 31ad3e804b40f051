#!/usr/bin/env python3
"""tamis and Python onnxruntime on the same texts, in the same run, one thread each.

    python3 scripts/bench-embed.py [--data ../shared/data/harmful/sst2/validation.csv] [--texts 256]
                                   [--docs docs/speed-native.md]

Runs `tamis bench embed --format json` (release build), then, when onnxruntime and tokenizers
are installed (`pip install onnxruntime tokenizers numpy`), the same model file on the same
texts with onnxruntime: batch 1, and batches of 32 consecutive texts padded to the longest.
Prints both and the ratio; the machines are noisy, so the ratio means more than the figures.
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


def tamis_report(args) -> dict:
    command = ["cargo", "run", "--quiet", "--release", "-p", "tamis-cli", "--", "--model",
               str(args.model), "bench", "embed", "--csv", str(args.data), "--texts",
               str(args.texts), "--format", "json"]
    return json.loads(subprocess.run(command, cwd=root, check=True, capture_output=True,
                                     text=True).stdout)


def onnxruntime_ms_per_text(args, texts) -> dict | None:
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

    figures = {}
    for batch_size in (1, 32):
        embed(texts[:8])
        start = time.perf_counter()
        for i in range(0, len(texts), batch_size):
            embed(texts[i:i + batch_size])
        figures[batch_size] = (time.perf_counter() - start) * 1000 / len(texts)
    figures["version"] = onnxruntime.__version__
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path,
                        default=root.parent / "shared/data/harmful/sst2/validation.csv")
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--model", type=Path, default=root / "models/minilm-l6-int8")
    parser.add_argument("--docs", type=Path, help="also write the report to this markdown page")
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
    print("\n".join(lines))
    if args.docs:
        write_docs(args.docs, lines, load_at_start)


def write_docs(path: Path, lines: list[str], load_at_start: float) -> None:
    """The report as a docs page that says how it was made: rerun the command to refresh it."""
    command = "python3 scripts/bench-embed.py " + " ".join(sys.argv[1:])
    header = ["# Speed, native: tamis beside onnxruntime", "",
              f"Written by `{command.strip()}` on {datetime.date.today().isoformat()}, "
              f"{platform.machine()}, {os.cpu_count()} cores, load average {load_at_start:.1f} at the "
              "start. Rerun it to refresh this page.", ""]
    path.write_text("\n".join(header + lines) + "\n", encoding="utf-8")

if __name__ == "__main__":
    main()
