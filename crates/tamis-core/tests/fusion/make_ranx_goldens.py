#!/usr/bin/env python3
"""Golden fused scores from ranx, for tamis's fusion parity test.

    pip install ranx
    python3 crates/tamis-core/tests/fusion/make_ranx_goldens.py

Writes ranx_goldens.json beside this script: seeded random runs, then `ranx.fuse` for every
untrained method with every normalization it is compared under, and ranx's nDCG@10, MAP and
Recall@100 of each run against seeded random graded judgments. The Rust tests fuse and
evaluate the same runs and must match each value to 1e-9.

Rank-based methods are compared under min-max only: they read each list's order, which
every normalization but "borda" keeps; ranx's borda normalization rebuilds each list from an
unordered set, so its rank-based fusers then see an arbitrary order (tamis keeps the list's
own order). Condorcet runs are drawn so that the pairwise majorities are acyclic: with a
cycle, ranx's result depends on Python's hash seed.
"""

import itertools
import json
import random
from pathlib import Path

from importlib.metadata import version
from ranx import Qrels, Run, evaluate, fuse

WEIGHTS = [0.5, 0.3, 0.2]
CONDORCET_WEIGHTS = [0.45, 0.35, 0.2]
SCORE_METHODS = {
    "sum": {}, "mnz": {}, "anz": {}, "max": {}, "min": {}, "med": {},
    "gmnz": {"gamma": 0.5}, "wsum": {"weights": WEIGHTS}, "wmnz": {"weights": WEIGHTS},
}
RANK_METHODS = {
    "rrf": {"k": 60}, "isr": {}, "log_isr": {}, "logn_isr": {"sigma": 0.01}, "rbc": {"phi": 0.8},
    "bordafuse": {}, "w_bordafuse": {"weights": WEIGHTS},
}
NORMS = [None, "min-max", "max", "sum", "zmuv", "rank", "borda"]


def random_runs(rng):
    """Three runs on three queries with different score scales and partial overlap."""
    scales = [(0.0, 30.0), (0.0, 1.0), (-20.0, -5.0)]
    runs = [{} for _ in scales]
    for q in range(3):
        pool = [f"d{i}" for i in range(30)]
        for run, (low, high) in zip(runs, scales):
            docs = rng.sample(pool, rng.randint(8, 25))
            run[f"q{q}"] = {d: round(rng.uniform(low, high), 6) for d in docs}
    return runs


def majority_is_acyclic(runs, weights):
    for q in runs[0]:
        orders = [sorted(run[q], key=run[q].get, reverse=True) for run in runs]
        docs = orders[0]
        position = [{d: i for i, d in enumerate(order)} for order in orders]

        def beats(x, y):
            x_votes = sum(w for w, p in zip(weights, position) if p[x] < p[y])
            return x_votes >= sum(weights) - x_votes

        for x, y, z in itertools.permutations(docs, 3):
            if beats(x, y) and beats(y, z) and not beats(x, z):
                return False
    return True


def condorcet_runs(rng):
    """Three full rankings of the same 12 documents, perturbations of one order."""
    while True:
        runs = [{} for _ in range(3)]
        for q in range(2):
            base = [f"d{i}" for i in range(12)]
            for run in runs:
                noisy = sorted(base, key=lambda d: int(d[1:]) + rng.gauss(0, 3))
                run[f"q{q}"] = {d: float(len(noisy) - i) for i, d in enumerate(noisy)}
        if majority_is_acyclic(runs, [1, 1, 1]) and majority_is_acyclic(runs, CONDORCET_WEIGHTS):
            return runs


def fused(runs, norm, method, params):
    result = fuse([Run(r) for r in runs], norm=norm, method=method, params=params)
    return {q: dict(docs) for q, docs in result.to_dict().items()}


def main():
    rng = random.Random(20261126)
    general = random_runs(rng)
    cases = []
    for method, params in SCORE_METHODS.items():
        for norm in NORMS:
            cases.append({"runs": "general", "method": method, "norm": norm, "params": params,
                          "scores": fused(general, norm, method, params)})
    for method, params in RANK_METHODS.items():
        cases.append({"runs": "general", "method": method, "norm": "min-max", "params": params,
                      "scores": fused(general, "min-max", method, params)})
    qrels = {q: {f"d{i}": rng.choice([1, 2, 3]) for i in rng.sample(range(30), 8)}
             for q in general[0]}
    metrics = ["ndcg@10", "map", "recall@100"]
    evaluations = [
        {m: dict(zip(general[0], map(float, values)))
         for m, values in evaluate(Qrels(qrels), Run(run), metrics, return_mean=False).items()}
        for run in general
    ]
    condorcet = condorcet_runs(rng)
    for method, params in {"condorcet": {}, "w_condorcet": {"weights": CONDORCET_WEIGHTS}}.items():
        cases.append({"runs": "condorcet", "method": method, "norm": "min-max", "params": params,
                      "scores": fused(condorcet, "min-max", method, params)})
    golden = {
        "generated_by": f"ranx {version('ranx')}",
        "runs": {"general": general, "condorcet": condorcet},
        "cases": cases,
        "qrels": qrels,
        "evaluations": evaluations,
    }
    path = Path(__file__).with_name("ranx_goldens.json")
    path.write_text(json.dumps(golden, indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
