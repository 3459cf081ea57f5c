"""load_artifact refuses a corrupt, incomplete or missing index version, naming the file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from movierec.artifact import CURRENT, MANIFEST, current_version, load_artifact
from movierec.diagnostics import ArtifactError
from movierec.settings import Settings

from synthetic import synthetic_artifact


@pytest.fixture()
def version_copy(sample_settings: Settings, tmp_path: Path) -> Path:
    """A private copy of the sample index's current version folder (the fixture's own is never touched)."""
    name = current_version(sample_settings.index.index_dir)
    assert name is not None
    copy = tmp_path / "index" / name
    shutil.copytree(sample_settings.index.index_dir / name, copy)
    return copy


def refused(path: Path) -> str:
    with pytest.raises(ArtifactError) as info:
        load_artifact(path)
    return str(info.value)


def test_intact_copy_loads(version_copy: Path) -> None:
    artifact = load_artifact(version_copy)
    assert artifact.path == version_copy
    assert artifact.version == version_copy.name
    assert len(artifact.movies) == artifact.manifest["counts"]["movies"] > 0
    assert artifact.movie_vectors.shape == (len(artifact.movies), artifact.dimensions)


def test_flipped_byte_in_movies_faiss(version_copy: Path) -> None:
    target = version_copy / "movies.faiss"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    message = refused(version_copy)
    assert str(target) in message and "checksum" in message


@pytest.mark.parametrize("name", ["users.npz", "movies.faiss", "users.faiss", "movies.jsonl"])
def test_missing_data_file(version_copy: Path, name: str) -> None:
    (version_copy / name).unlink()
    message = refused(version_copy)
    assert str(version_copy / name) in message and "missing" in message


def test_folder_without_manifest(version_copy: Path) -> None:
    (version_copy / MANIFEST).unlink()
    message = refused(version_copy)
    assert str(version_copy) in message and MANIFEST in message


def test_unparsable_manifest(version_copy: Path) -> None:
    manifest = version_copy / MANIFEST
    manifest.write_text(manifest.read_text(encoding="utf-8")[:40], encoding="utf-8")
    assert str(manifest) in refused(version_copy)


def test_manifest_counts_that_disagree_with_the_files(version_copy: Path) -> None:
    manifest_path = version_copy / MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["counts"]["movies"] += 1
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    message = refused(version_copy)
    assert str(version_copy) in message and MANIFEST in message


def test_current_naming_a_folder_that_does_not_exist(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    (index_dir / CURRENT).write_text("20990101T000000000Z-abcdef\n", encoding="utf-8")
    message = refused(index_dir)
    assert str(index_dir / "20990101T000000000Z-abcdef") in message


@pytest.mark.parametrize("content", ["", "../elsewhere", ".building-x"])
def test_current_that_does_not_name_a_version(tmp_path: Path, content: str) -> None:
    (tmp_path / CURRENT).write_text(content, encoding="utf-8")
    assert str(tmp_path / CURRENT) in refused(tmp_path)


def test_index_dir_without_current(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    (index_dir / "cache").mkdir(parents=True)
    message = refused(index_dir)
    assert str(index_dir) in message and CURRENT in message


def test_index_dir_that_does_not_exist(tmp_path: Path) -> None:
    assert str(tmp_path / "nothing") in refused(tmp_path / "nothing")


def test_corrupt_version_behind_current_is_refused(version_copy: Path) -> None:
    index_dir = version_copy.parent
    (index_dir / CURRENT).write_text(version_copy.name + "\n", encoding="utf-8")
    assert load_artifact(index_dir).path == version_copy
    (version_copy / "users.faiss").write_bytes(b"\0" * 16)
    message = refused(index_dir)
    assert str(version_copy / "users.faiss") in message and "checksum" in message


def test_the_collaborative_tail_is_written_and_read_back(tmp_path: Path) -> None:
    """A capped EASE's item-kNN tail survives the round trip; an index without one reads as an empty tail."""
    capped = synthetic_artifact(tmp_path / "capped", ease_max_items=100)
    again = load_artifact(tmp_path / "capped")
    assert len(capped.tail_items) > 0 and capped.tail_weights is not None and again.tail_weights is not None
    np.testing.assert_array_equal(again.tail_items, capped.tail_items)
    assert (again.tail_weights != capped.tail_weights).nnz == 0 and again.tail_weights.nnz > 0
    assert set(again.collaborative_items.tolist()) == set(np.unique(again.rated_rows).tolist())
    whole = synthetic_artifact(tmp_path / "whole")
    assert len(whole.tail_items) == 0 and whole.tail_weights is not None
    assert whole.tail_weights.shape == (len(whole.movies), 0)
