"""load_artifact refuses a corrupt, incomplete or missing index version, naming the file."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from movierec.artifact import CURRENT, DATA_FILES, MANIFEST, IndexData, current_version, load_artifact, write_artifact
from movierec.diagnostics import ArtifactError
from movierec.domain import Movie
from movierec.learned import MODEL_FILE
from movierec.manifest import (
    BuilderRecord,
    Counts,
    CpuRecord,
    InputFile,
    InputReport,
    Inputs,
    LearnedRecord,
    Manifest,
    ModelRecord,
    StoreInput,
)
from movierec.settings import Settings

from synthetic import random_scorer, synthetic_artifact, unit_rows


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
    assert len(artifact.movies) == artifact.manifest.counts.movies > 0
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


def test_a_written_manifest_reads_back_equal(tmp_path: Path) -> None:
    """Every field survives write_artifact and load_artifact; the writer adds the file checksums, how
    each index searches, and the model's file and checksum."""
    manifest = Manifest(
        index_version="v-round-trip",
        dimensions=8,
        counts=Counts(movies=5, users=2, ratings=3),
        model=ModelRecord("an encoder", "/models/e", "abc-torch", "torch", "torch-bf16", 256),
        cpu=CpuRecord("a CPU", ("avx2",), ("avx512_bf16",), False, "/proc/cpuinfo"),
        built_at="2026-01-02T03:04:05+00:00",
        builder=BuilderRecord("0.1.0", 42),
        user_vectors="centroid of rated movies' embeddings, unit length",
        ease_lambda=300.0,
        ease_max_items=20000,
        tail_neighbours=100,
        tail_shrink=10.0,
        inputs=Inputs(
            files={"ratings": InputFile("r.csv", "0" * 64, InputReport("r.csv", 4, 3, {"bad": 1}, {"odd": 2}))},
            store=StoreInput("var/feedback.sqlite", 7, 1, 0, 0),
        ),
        store_seq=7,
        ratings_filter="the training part",
        learned=LearnedRecord(
            config={"seed": 0, "hidden": [32, 16]},
            ratings=3,
            trained_on_ratings=3,
            training={"users": 2},
            curve=({"epoch": 1, "train": 0.5, "validation": 0.25},),
            seconds=1.5,
            extra={"a later build's note": "kept"},
        ),
        extra={"a later build's key": {"kept": True}},
    )
    rng = np.random.default_rng(0)
    write_artifact(
        tmp_path / "v",
        IndexData(
            manifest=manifest,
            movies=[Movie(10 + i, f"movie {i}", 2000, ("Drama",)) for i in range(5)],
            movie_vectors=unit_rows(rng, 5, 8),
            user_ids=np.array([1, 2], np.int64),
            user_vectors=unit_rows(rng, 2, 8),
            rated_ptr=np.array([0, 2, 3], np.int64),
            rated_rows=np.array([0, 1, 4], np.int32),
            rated_values=np.array([4.0, 3.0, 5.0], np.float32),
            rated_timestamps=np.array([1, 2, 3], np.int64),
            ease_items=np.zeros(0, np.int32),
            ease_weights=np.zeros((0, 0), np.float32),
            learned=random_scorer(0),
        ),
    )
    loaded = load_artifact(tmp_path / "v")
    read = loaded.manifest
    assert loaded.learned is not None and read.learned is not None and read.search is not None
    assert set(read.files) == set(DATA_FILES) and read.search.movies.kind == read.search.users.kind == "flat"
    assert read.learned.file == MODEL_FILE and read.learned.sha256 is not None
    assert manifest.learned is not None
    assert read == replace(
        manifest,
        files=read.files,
        search=read.search,
        learned=replace(manifest.learned, file=MODEL_FILE, sha256=read.learned.sha256),
    )
    assert Manifest.from_json(read.to_json(), "again") == read


def test_the_builds_manifest_is_typed_throughout(version_copy: Path) -> None:
    """The indexer's manifest reads into typed fields with nothing left over, and writes back byte for byte."""
    text = (version_copy / MANIFEST).read_text(encoding="utf-8")
    manifest = Manifest.from_json(text, version_copy / MANIFEST)
    assert manifest.extra == {} and (manifest.learned is None or manifest.learned.extra == {})
    assert manifest.model is not None and manifest.cpu is not None and manifest.inputs is not None
    assert manifest.inputs.store is not None and manifest.search is not None
    assert manifest.to_json() == text


def test_an_older_manifest_with_a_key_this_code_does_not_know_loads(version_copy: Path) -> None:
    """A format-3 manifest from before the records added since (cpu, search, the tail, the backends) loads;
    a key from a later build is kept, and written back."""
    path = version_copy / MANIFEST
    record = json.loads(path.read_text(encoding="utf-8"))
    for key in ("cpu", "search", "tail_neighbours", "tail_shrink", "ease_max_items", "learned"):
        record.pop(key, None)
    for key in ("backend", "backend_requested"):
        del record["model"][key]
    del record["inputs"]["store"]["replaced by a later rating"]
    record["added by a later build"] = {"anything": [1, 2]}
    path.write_text(json.dumps(record), encoding="utf-8")
    manifest = load_artifact(version_copy).manifest
    assert manifest.cpu is None and manifest.search is None and manifest.learned is None
    assert manifest.model is not None and manifest.model.backend is None
    assert manifest.extra == {"added by a later build": {"anything": [1, 2]}}
    assert json.loads(manifest.to_json()) == record


def _set(path: str, value: object) -> Callable[[dict], None]:
    """A change to a manifest record: the key at `path` ("counts/movies") set to `value` (MISSING: removed)."""

    def change(record: dict) -> None:
        *parents, last = path.split("/")
        for key in parents:
            record = record[key]
        if value is MISSING:
            del record[last]
        else:
            record[last] = value

    return change


MISSING = object()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (_set("dimensions", MISSING), "dimensions: missing"),
        (_set("dimensions", "384"), "dimensions: expected an integer"),
        (_set("dimensions", True), "dimensions: expected an integer"),
        (_set("index_version", MISSING), "index_version: missing"),
        (_set("counts/movies", MISSING), "counts.movies: missing"),
        (_set("counts/users", 1.5), "counts.users: expected an integer"),
        (_set("counts", [1, 2]), "counts: expected an object"),
        (_set("files", MISSING), "files: missing"),
        (_set("files/users.npz", 7), "files.users.npz: expected a string"),
        (_set("model/name", 5), "model.name: expected a string"),
        (_set("search/movies/nprobe", "many"), "search.movies.nprobe: expected an integer"),
        (_set("inputs/ratings/sha256", MISSING), "inputs.ratings.sha256: missing"),
        (_set("inputs/store/seq", "3"), "inputs.store.seq: expected an integer"),
        (_set("store_seq", "0"), "store_seq: expected an integer"),
        (_set("learned", {"curve": {"epoch": 1}}), "learned.curve: expected a list"),
        (_set("learned", {"curve": [{"epoch": "one"}]}), "learned.curve[0].epoch: expected a number"),
        (_set("format", 2), "format 2, this server reads format 3"),
        (_set("format", MISSING), "format None"),
    ],
)
def test_malformed_manifest(version_copy: Path, change: Callable[[dict], None], problem: str) -> None:
    """A key missing or of the wrong type is refused, naming the file and the key."""
    path = version_copy / MANIFEST
    record = json.loads(path.read_text(encoding="utf-8"))
    change(record)
    path.write_text(json.dumps(record), encoding="utf-8")
    message = refused(version_copy)
    assert message.startswith(f"{path}: ") and problem in message, message


@pytest.mark.parametrize("text", ["[]", "3", '"manifest"', "null"])
def test_a_manifest_that_is_not_an_object(version_copy: Path, text: str) -> None:
    (version_copy / MANIFEST).write_text(text, encoding="utf-8")
    message = refused(version_copy)
    assert str(version_copy / MANIFEST) in message and "expected a JSON object" in message


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
