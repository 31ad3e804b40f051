#!/usr/bin/env python3
"""Reference embeddings for the parity test, computed with onnxruntime on the bundle's own files.

    pip install onnxruntime tokenizers numpy
    python3 crates/tamis-model/tests/parity/make_reference.py [models/minilm-l6-int8]

Each sentence of sentences.txt is run alone (no padding), then mean-pooled over the attention
mask and L2-normalised, as the manifest says. Writes reference.json beside this script.
"""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime
from tokenizers import Tokenizer

here = Path(__file__).resolve().parent
bundle = Path(sys.argv[1]) if len(sys.argv) > 1 else here.parents[3] / "models" / "minilm-l6-int8"
manifest = json.loads((bundle / "manifest.json").read_text())

tokenizer = Tokenizer.from_file(str(bundle / "tokenizer.json"))
tokenizer.no_padding()
tokenizer.enable_truncation(manifest["max_tokens"])
options = onnxruntime.SessionOptions()
options.intra_op_num_threads = 1
session = onnxruntime.InferenceSession(str(bundle / "model.onnx"), options)

sentences = (here / "sentences.txt").read_text(encoding="utf-8").splitlines()
rows = []
for sentence in sentences:
    encoding = tokenizer.encode(sentence)
    ids = np.array([encoding.ids], dtype=np.int64)
    mask = np.ones_like(ids)
    (hidden,) = session.run(
        ["last_hidden_state"],
        {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
    )
    pooled = hidden[0].mean(axis=0)
    pooled /= np.linalg.norm(pooled)
    rows.append({
        "tokens": len(encoding.ids),
        "truncated": len(encoding.overflowing) > 0,
        "embedding": [float(f"{x:.6g}") for x in pooled],
    })

reference = {
    "generated_by": f"onnxruntime {onnxruntime.__version__}, tokenizers (Python)",
    "model_sha256": hashlib.sha256((bundle / "model.onnx").read_bytes()).hexdigest(),
    "sentences": rows,
}
(here / "reference.json").write_text(json.dumps(reference, separators=(",", ":")) + "\n")
print(f"wrote {len(rows)} reference embeddings")
