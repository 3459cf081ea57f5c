"""The offline build on the bundled sample: manifest, embedding cache, crash safety, pruning, locking."""

from __future__ import annotations

import csv
import fcntl
import hashlib
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import movierec.indexer.build as build_module
from movierec.artifact import BUILDING_PREFIX, CURRENT, current_version, load_artifact
from movierec.diagnostics import ArtifactError
from movierec.embedding import Encoder
from movierec.indexer.build import build_index
from movierec.manifest import Counts, StoreInput
from movierec.settings import Settings

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample"
INPUTS = {
    "movies": "tmdb_5000_movies.csv",
    "credits": "tmdb_5000_credits.csv",
    "ratings": "ratings.csv",
    "links": "links.csv",
}


def settings_for(index_dir: Path, **changes: object) -> Settings:
    return Settings(data_dir=SAMPLE, index_dir=index_dir, reload_interval_s=0.2).replace(**changes)


@pytest.fixture()
def warm_settings(tmp_path: Path, sample_settings: Settings) -> Settings:
    """A fresh index_dir whose embedding cache is a copy of the session sample index's (so builds are quick)."""
    index_dir = tmp_path / "index"
    shutil.copytree(sample_settings.index.index_dir / "cache", index_dir / "cache")
    return settings_for(index_dir)


def version_folders(index_dir: Path) -> set[str]:
    return {p.name for p in index_dir.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != "cache"}


def building_folders(index_dir: Path) -> list[str]:
    return [p.name for p in index_dir.iterdir() if p.name.startswith(BUILDING_PREFIX)]


def sample_counts() -> tuple[int, int]:
    with open(SAMPLE / INPUTS["movies"], newline="", encoding="utf-8") as f:
        movies = {row["id"] for row in csv.DictReader(f)}
    with open(SAMPLE / INPUTS["ratings"], newline="", encoding="utf-8") as f:
        users = {row["userId"] for row in csv.DictReader(f)}
    return len(movies), len(users)


def test_manifest(tmp_path: Path, encoder: Encoder, warm_settings: Settings) -> None:
    started = datetime.now(UTC)
    result = build_index(warm_settings, encoder=encoder, progress=False)
    index_dir = warm_settings.index.index_dir
    n_movies, n_users = sample_counts()
    assert (result.movies, result.users) == (n_movies, n_users)

    artifact = load_artifact(index_dir)
    manifest = artifact.manifest
    assert manifest.model is not None and manifest.model.name == encoder.name and manifest.model.name
    assert manifest.dimensions == 384 == encoder.dimensions
    assert manifest.counts == Counts(movies=n_movies, users=n_users, ratings=result.ratings) and result.ratings > 0
    assert manifest.inputs is not None
    for name, filename in INPUTS.items():
        data = (SAMPLE / filename).read_bytes()
        assert Path(manifest.inputs.files[name].path) == SAMPLE / filename
        assert manifest.inputs.files[name].sha256 == hashlib.sha256(data).hexdigest(), name
    assert manifest.built_at is not None
    built_at = datetime.fromisoformat(manifest.built_at)
    assert started - timedelta(seconds=2) <= built_at <= datetime.now(UTC) + timedelta(seconds=2)

    current = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    assert manifest.index_version == current == result.version == artifact.version
    assert result.path == index_dir / current and artifact.path == result.path
    assert building_folders(index_dir) == []


def test_an_approximate_index_is_calibrated_on_prompts_and_tastes(encoder: Encoder, warm_settings: Settings) -> None:
    # Above exact_search_max the movie index is IVF: its probes are chosen on what the server will send.
    settings = warm_settings.replace(exact_search_max=100, learned_train=False)
    build_index(settings, encoder=encoder, progress=False)
    artifact = load_artifact(settings.index.index_dir)
    assert artifact.manifest.search is not None
    movies = artifact.manifest.search.movies
    assert movies.kind == "ivf" and movies.calibrated_on == "queries"
    assert movies.recall_at_100 >= 0.95 or movies.nprobe == movies.lists, movies
    queries = encoder.encode(["a gritty heist movie with a twist ending", "something funny for the kids"])
    _, found = artifact.movie_index.search(queries, 10)
    assert (found >= 0).all()  # the calibrated index answers


def test_second_build_reembeds_nothing_and_gives_a_new_version(tmp_path: Path, encoder: Encoder) -> None:
    settings = settings_for(tmp_path / "index")  # cold cache
    first = build_index(settings, encoder=encoder, progress=False)
    assert first.embedded == first.movies == sample_counts()[0]
    second = build_index(settings, encoder=encoder, progress=False)
    assert second.embedded == 0
    assert second.version != first.version and second.version > first.version
    assert current_version(settings.index.index_dir) == second.version
    assert load_artifact(settings.index.index_dir).version == second.version
    # Same inputs, same vectors.
    a, b = load_artifact(first.path), load_artifact(second.path)
    assert (a.movie_vectors == b.movie_vectors).all() and (a.user_vectors == b.user_vectors).all()


def _crash_in_write_artifact(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(folder: Path, *args: object, **kwargs: object) -> None:
        folder.mkdir(parents=True)
        (folder / "movies.faiss").write_bytes(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(build_module, "write_artifact", broken)


def _crash_in_publish(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(index_dir: Path, building: Path, version: str) -> Path:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(build_module, "publish", broken)


@pytest.mark.parametrize("crash", [_crash_in_write_artifact, _crash_in_publish], ids=["write_artifact", "publish"])
def test_crash_leaves_the_previous_version_serving(encoder: Encoder, warm_settings: Settings, crash) -> None:  # noqa: ANN001
    index_dir = warm_settings.index.index_dir
    first = build_index(warm_settings, encoder=encoder, progress=False)
    with pytest.MonkeyPatch.context() as mp:
        crash(mp)
        with pytest.raises(OSError):
            build_index(warm_settings, encoder=encoder, progress=False)
    assert (index_dir / CURRENT).read_text(encoding="utf-8").strip() == first.version
    assert load_artifact(index_dir).version == first.version
    assert load_artifact(first.path).version == first.version
    leftovers = building_folders(index_dir)
    assert len(leftovers) == 1
    assert version_folders(index_dir) == {first.version}

    third = build_index(warm_settings, encoder=encoder, progress=False)
    assert building_folders(index_dir) == []
    assert not (index_dir / leftovers[0]).exists()
    assert current_version(index_dir) == third.version
    assert load_artifact(index_dir).version == third.version


def test_pruning_keeps_current_and_keep_versions_others(encoder: Encoder, warm_settings: Settings) -> None:
    settings = warm_settings.replace(keep_versions=1)
    versions = [build_index(settings, encoder=encoder, progress=False).version for _ in range(4)]
    assert len(set(versions)) == 4 and versions == sorted(versions)
    assert version_folders(settings.index.index_dir) == {versions[2], versions[3]}
    assert current_version(settings.index.index_dir) == versions[3]
    assert (settings.index.index_dir / "cache").is_dir()  # the cache is not a version
    assert load_artifact(settings.index.index_dir / versions[2]).version == versions[2]


def test_keep_versions_zero_keeps_only_current(encoder: Encoder, warm_settings: Settings) -> None:
    settings = warm_settings.replace(keep_versions=0)
    versions = [build_index(settings, encoder=encoder, progress=False).version for _ in range(2)]
    assert version_folders(settings.index.index_dir) == {versions[1]}


def test_a_second_concurrent_build_is_refused(encoder: Encoder, warm_settings: Settings) -> None:
    index_dir = warm_settings.index.index_dir
    first = build_index(warm_settings, encoder=encoder, progress=False)
    with open(index_dir / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            with pytest.raises(ArtifactError) as info:
                build_index(warm_settings, encoder=encoder, progress=False)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    assert str(index_dir) in str(info.value)
    assert current_version(index_dir) == first.version
    assert version_folders(index_dir) == {first.version} and building_folders(index_dir) == []
    # Once the lock is free again, building works.
    assert build_index(warm_settings, encoder=encoder, progress=False).version != first.version


@pytest.mark.slow
def test_a_reindex_with_every_text_cached_never_loads_the_model(warm_settings: Settings) -> None:
    """The warm reindex is the one `make reindex` runs after new ratings: it must not pay for torch (the
    encoder's nor the learned ranker's training: the model is carried over until the ratings move)."""
    import json
    import subprocess
    import sys

    first = build_index(warm_settings, progress=False)  # the indexer's own encoder, as `make reindex` has
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from movierec.indexer.build import build_index\n"
        "from movierec.runtime import tune_process\n"
        "from movierec.settings import Settings\n"
        "tune_process()\n"
        f"result = build_index(Settings(data_dir=Path({str(SAMPLE)!r}),"
        f" index_dir=Path({str(warm_settings.index.index_dir)!r})),"
        " progress=False)\n"
        "print(result.embedded, 'torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["0", "False"]
    newest = max(version_folders(warm_settings.index.index_dir))
    manifest = json.loads((warm_settings.index.index_dir / newest / "manifest.json").read_text())
    assert manifest["learned"]["carried over from"] == first.version


def test_the_indexer_reads_the_ratings_from_a_postgresql_store(
    encoder: Encoder, warm_settings: Settings, postgres_url: str
) -> None:
    """store_url names the store a build reads (here a real PostgreSQL server); the manifest records its
    last seq, and names it without the password."""
    from movierec.store import open_store, redact_url, sqlite_path

    settings = warm_settings.replace(store_url=postgres_url, learned_train=False)
    store = open_store(postgres_url)
    try:
        newcomer = store.record(990_301, 862, 4.5, "pg-1")
        store.record(990_301, 424242424, 3.0, "pg-2")  # not in the catalogue: counted, not indexed
        last = store.record(990_302, 603, 5.0, "pg-3")
    finally:
        store.close()
    build_index(settings, encoder=encoder, progress=False)
    index = load_artifact(settings.index.index_dir)
    assert index.manifest.store_seq == last.seq > newcomer.seq
    assert index.manifest.inputs is not None
    assert index.manifest.inputs.store == StoreInput(
        path=redact_url(postgres_url), seq=last.seq, rows=3, not_in_catalogue=1, replaced_by_a_later_rating=0
    )
    assert {990_301, 990_302} <= set(index.user_row)
    assert [int(index.movie_ids[r]) for r in index.rated(index.user_row[990_301])] == [862]
    assert ":***@" in index.manifest.inputs.store.path
    assert postgres_url.split(":")[2].split("@")[0] not in index.manifest.to_json()  # the password
    assert not (settings.index.index_dir / "feedback.sqlite").exists() and sqlite_path(postgres_url) is None


@pytest.mark.parametrize("flags_off", ["avx512_bf16,amx_bf16", ""])
def test_movierec_index_runs_the_bf16_backend_as_the_cpu_allows_and_says_which(
    tmp_path: Path, flags_off: str, torch_encoder: Encoder
) -> None:
    """The indexer's default, torch-bf16, on a CPU without native bf16 (forced with cpu_flags_off on any
    machine) and on this one as it is: a real `movierec-index` process builds; the manifest and the
    cache file carry the backend that ran (fp32 torch's key without bf16), and the log says why."""
    import json
    import os
    import subprocess
    import sys

    from movierec.embedding import encoder_fingerprint
    from movierec.hardware import detect_cpu

    index_dir = tmp_path / "index"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "movierec.indexer.cli",
            "--data-dir",
            str(SAMPLE),
            "--index-dir",
            str(index_dir),
            "--no-learned",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "MOVIEREC_CPU_FLAGS_OFF": flags_off, "MOVIEREC_INDEX_ENCODER_BACKEND": "torch-bf16"},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    cpu = detect_cpu(flags_off.split(","))
    ran = "torch-bf16" if cpu.native_bf16 else "torch"
    manifest = json.loads((index_dir / str(current_version(index_dir)) / "manifest.json").read_text())
    assert manifest["model"]["backend"] == ran and manifest["model"]["backend_requested"] == "torch-bf16"
    assert manifest["cpu"]["native_bf16"] == cpu.native_bf16 and manifest["cpu"]["flags_off"] == sorted(cpu.hidden)
    fingerprint = encoder_fingerprint(torch_encoder.model_dir, ran)
    assert manifest["model"]["fingerprint"] == fingerprint
    assert (index_dir / "cache" / f"embeddings-{fingerprint}.sqlite").is_file()
    said = "no native bf16 on this CPU" in run.stderr
    assert said == (not cpu.native_bf16), run.stderr[-2000:]
    if flags_off and cpu.hidden:
        assert "off by setting: " + " ".join(sorted(cpu.hidden)) in run.stderr
    from movierec.indexer.catalogue import load_catalogue

    index = load_artifact(index_dir)
    catalogue = load_catalogue(SAMPLE / INPUTS["movies"], SAMPLE / INPUTS["credits"])
    assert index.movie_ids.tolist() == catalogue.movie_ids
    cosine = (index.movie_vectors * torch_encoder.encode([e.text for e in catalogue.entries])).sum(axis=1)
    assert cosine.min() > (1 - 1e-5 if ran == "torch" else 0.9995)  # fp32's vectors, or within bf16's rounding
