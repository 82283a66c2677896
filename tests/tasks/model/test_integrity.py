"""The manifest check on real files: any changed, missing or extra file is refused, naming the version and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.model.integrity import MANIFEST_TAG, encode, manifest_of, verify
from tasks.platform.errors import IntegrityError

WHAT = "model credit-risk v3"


@pytest.fixture
def version_files(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    folder = tmp_path / "model"
    (folder / "nested").mkdir(parents=True)
    (folder / "model.lgb").write_bytes(b"tree\n" * 1000)
    (folder / "nested" / "MLmodel").write_text("flavors: {}\n")
    return folder, {MANIFEST_TAG: encode(manifest_of(folder, "model"))}


def test_unchanged_files_pass(version_files: tuple[Path, dict[str, str]]) -> None:
    folder, tags = version_files
    verify(folder, "model", tags, WHAT)


def test_one_changed_byte_is_refused_naming_the_file(version_files: tuple[Path, dict[str, str]]) -> None:
    folder, tags = version_files
    body = bytearray((folder / "model.lgb").read_bytes())
    body[100] ^= 0x01
    (folder / "model.lgb").write_bytes(bytes(body))
    with pytest.raises(IntegrityError, match=r"model credit-risk v3: model/model.lgb does not match its registered"):
        verify(folder, "model", tags, WHAT)


def test_a_missing_or_an_extra_file_is_refused(version_files: tuple[Path, dict[str, str]]) -> None:
    folder, tags = version_files
    (folder / "extra.pkl").write_bytes(b"\x80\x04")
    with pytest.raises(IntegrityError, match=r"model/extra.pkl is not in the registered manifest"):
        verify(folder, "model", tags, WHAT)
    (folder / "extra.pkl").unlink()
    (folder / "nested" / "MLmodel").unlink()
    with pytest.raises(IntegrityError, match=r"model/nested/MLmodel is missing"):
        verify(folder, "model", tags, WHAT)


def test_a_version_without_a_manifest_is_not_loaded(version_files: tuple[Path, dict[str, str]]) -> None:
    folder, _tags = version_files
    with pytest.raises(IntegrityError, match=r"has no driftloop\.manifest tag"):
        verify(folder, "model", {}, WHAT)


def test_the_file_mlflow_writes_into_a_download_is_not_part_of_the_check(
    version_files: tuple[Path, dict[str, str]],
) -> None:
    folder, tags = version_files
    (folder / "registered_model_meta").write_text("model_name: credit-risk\nmodel_version: '3'\n")
    verify(folder, "model", tags, WHAT)  # not in the manifest, yet not an extra file
    older = {MANIFEST_TAG: encode(manifest_of(folder, "model") | {"model/registered_model_meta": "0" * 64})}
    verify(folder, "model", older, WHAT)  # a manifest taken with it (as before) does not hold it against a load
    (folder / "nested" / "registered_model_meta").write_text("not where MLflow writes it")
    with pytest.raises(IntegrityError, match=r"model/nested/registered_model_meta is not in the registered manifest"):
        verify(folder, "model", tags, WHAT)
