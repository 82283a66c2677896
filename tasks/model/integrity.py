"""A registered version's files are the files it was registered with: a SHA-256 manifest, checked on every load.

The manifest (relative path -> SHA-256) is taken right after registration and stored as a model-version tag. Every
load downloads into a private temporary folder (mode 0700), hashes what it is about to read and refuses a mismatch,
a missing file or an extra one before anything is deserialised.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tasks.platform.errors import IntegrityError

MANIFEST_TAG = "driftloop.manifest"
CHUNK = 1 << 20
# Written by MLflow's client into every `models:/` download (the name and version it was fetched as), never stored:
# not among the files a version was registered with, and never read by driftloop.
GENERATED = {"registered_model_meta"}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_of(folder: Path, prefix: str) -> dict[str, str]:
    """`<prefix>/<relative path>` -> SHA-256 of every stored file below `folder` (not the GENERATED ones)."""
    return {
        f"{prefix}/{path.relative_to(folder).as_posix()}": file_sha256(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.relative_to(folder).as_posix() not in GENERATED
    }


def encode(manifest: dict[str, str]) -> str:
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"))


def verify(folder: Path, prefix: str, tags: dict[str, str], what: str) -> None:
    """Raise IntegrityError naming `what` (model and version) and the file, unless `folder` matches the manifest."""
    if MANIFEST_TAG not in tags:
        raise IntegrityError(f"{what} has no {MANIFEST_TAG} tag: its files cannot be verified, so it is not loaded")
    expected = {
        path: digest
        for path, digest in json.loads(tags[MANIFEST_TAG]).items()
        if path.startswith(prefix + "/") and path.removeprefix(prefix + "/") not in GENERATED  # in older manifests
    }
    actual = manifest_of(folder, prefix)
    for path in sorted(expected.keys() | actual.keys()):
        if path not in actual:
            raise IntegrityError(f"{what}: {path} is missing; refusing to load it")
        if path not in expected:
            raise IntegrityError(f"{what}: {path} is not in the registered manifest; refusing to load it")
        if actual[path] != expected[path]:
            raise IntegrityError(
                f"{what}: {path} does not match its registered SHA-256 "
                f"(expected {expected[path][:12]}…, found {actual[path][:12]}…); refusing to load it"
            )
