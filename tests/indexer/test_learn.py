"""The indexer's learned ranker: trained inside the build, temporal, reproducible, carried over by reindexes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE_DATA

from movierec.artifact import load_artifact
from movierec.embedding import Encoder
from movierec.indexer.build import build_index
from movierec.indexer.learn import memory_artifact
from movierec.settings import Settings
from movierec.splits import temporal_split
from movierec.store import STORE_NAME, SqliteRatingsStore

pytestmark = pytest.mark.slow


@pytest.fixture()
def cache(sample_settings: Settings) -> Path:
    """The session sample index's embedding cache: the builds here embed nothing."""
    return sample_settings.index.index_dir / "cache"


def build(index_dir: Path, encoder: Encoder, cache: Path, **changes: object) -> tuple[Path, dict]:
    settings = Settings(data_dir=SAMPLE_DATA, index_dir=index_dir, cache_dir=cache).replace(**changes)
    result = build_index(settings, encoder=encoder, progress=False)
    return result.path, json.loads((result.path / "manifest.json").read_text())


def test_a_build_trains_a_model_and_two_builds_of_the_same_data_train_the_same_one(
    tmp_path: Path, encoder: Encoder, cache: Path
) -> None:
    path, manifest = build(tmp_path / "a", encoder, cache)
    entry = manifest["learned"]
    assert entry["file"] == "learned.npz" and (path / "learned.npz").is_file() and len(entry["sha256"]) == 64
    assert entry["training"]["users with a later liked movie in their pool"] >= 20
    assert len(entry["curve"]) == entry["config"]["epochs"]
    assert entry["curve"][-1]["train"] < entry["curve"][0]["train"]
    a = load_artifact(path).learned
    b = load_artifact(build(tmp_path / "b", encoder, cache)[0]).learned
    assert a is not None and b is not None
    for (wa, ba), (wb, bb) in zip(a.layers, b.layers):
        np.testing.assert_allclose(wa, wb, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(ba, bb, rtol=1e-4, atol=1e-5)


def test_a_reindex_carries_the_model_over_until_the_ratings_move(tmp_path: Path, encoder: Encoder, cache: Path) -> None:
    first, m1 = build(tmp_path / "i", encoder, cache)
    second, m2 = build(tmp_path / "i", encoder, cache)
    assert m2["learned"]["carried over from"] == m1["index_version"]
    assert m2["learned"]["sha256"] == m1["learned"]["sha256"]
    # Enough new ratings (here 10% of them, through the ratings store) and it is trained again.
    ratings = pd.read_csv(SAMPLE_DATA / "ratings.csv")
    links = pd.read_csv(SAMPLE_DATA / "links.csv").dropna()
    tmdb = dict(zip(links["movieId"], links["tmdbId"].astype(int)))
    store = SqliteRatingsStore(tmp_path / "i" / STORE_NAME)
    added = 0
    for user in range(900_000, 900_000 + len(ratings) // 10 // 5 + 1):
        for movie in list(tmdb.values())[:5]:
            store.record(user, int(movie), 4.0)
            added += 1
    store.close()
    third, m3 = build(tmp_path / "i", encoder, cache)
    assert "carried over from" not in m3["learned"] and m3["learned"]["ratings"] >= m1["learned"]["ratings"] + added
    # --retrain (learned_retrain_share 0) always trains.
    fourth, m4 = build(tmp_path / "i", encoder, cache, learned_retrain_share=0.0)
    assert "carried over from" not in m4["learned"]


def test_without_training_the_index_has_no_model(tmp_path: Path, encoder: Encoder, cache: Path) -> None:
    path, manifest = build(tmp_path / "n", encoder, cache, learned_train=False)
    assert "learned" not in manifest and load_artifact(path).learned is None


def test_the_training_index_holds_only_each_users_older_ratings() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "user_id": rng.integers(1, 30, 600),
            "movie_id": rng.integers(0, 50, 600),
            "rating": rng.integers(1, 11, 600) / 2,
            "timestamp": rng.integers(0, 10**6, 600),
        }
    )
    frame = frame.drop_duplicates(["user_id", "movie_id"])
    earlier, later = temporal_split(frame)
    newest_earlier = earlier.groupby("user_id")["timestamp"].max()
    oldest_later = later.groupby("user_id")["timestamp"].min()
    assert (newest_earlier <= oldest_later.reindex(newest_earlier.index)).all()
    from movierec.domain import Movie

    movies = [
        Movie(movie_id=m, title=str(m), year=2000, genres=("Drama",), vote_average=5.0, vote_count=10)
        for m in range(50)
    ]
    vectors = rng.standard_normal((50, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    inner = memory_artifact(movies, vectors, earlier, "centred", 10.0, 1000)
    assert len(inner.rated_rows) == len(earlier)
    for user_id, group in earlier.groupby("user_id"):
        rows, _, stamps = inner.history(inner.user_row[user_id])
        assert sorted(rows.tolist()) == sorted(group["movie_id"].tolist())  # movie id m is row m here
        assert stamps.max() <= oldest_later[user_id]
