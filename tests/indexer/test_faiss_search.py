"""The FAISS inner-product index as written by write_artifact and read back by load_artifact."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.artifact import IndexData, load_artifact, publish, write_artifact
from movierec.domain import Movie
from movierec.manifest import Counts, Manifest

N_MOVIES, N_USERS, D = 2000, 300, 64


def unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    v = rng.standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict:
    rng = np.random.default_rng(2024)
    movie_vectors = unit_rows(rng, N_MOVIES, D)
    user_vectors = unit_rows(rng, N_USERS, D)
    movie_ids = 100_000 + 7 * np.arange(N_MOVIES)  # ids that are not the row numbers
    movies = [Movie(int(m), f"Movie {m}", 1990 + int(m) % 30, ("Drama",), 6.5, 10, 1.0) for m in movie_ids]
    counts = rng.integers(1, 20, size=N_USERS)
    rated_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    rated_rows = rng.integers(0, N_MOVIES, size=int(rated_ptr[-1])).astype(np.int32)
    rated_values = rng.choice(np.arange(1, 11) / 2, size=len(rated_rows)).astype(np.float32)
    user_ids = np.arange(1, N_USERS + 1, dtype=np.int64) * 3
    index_dir = tmp_path_factory.mktemp("faiss-index")
    building = index_dir / ".building-v1"
    manifest = Manifest(index_version="v1", dimensions=D, counts=Counts(movies=N_MOVIES, users=N_USERS))
    write_artifact(
        building,
        IndexData(
            manifest=manifest,
            movies=movies,
            movie_vectors=movie_vectors,
            user_ids=user_ids,
            user_vectors=user_vectors,
            rated_ptr=rated_ptr,
            rated_rows=rated_rows,
            rated_values=rated_values,
            rated_timestamps=np.zeros(len(rated_rows), np.int64),
            ease_items=np.zeros(0, np.int32),
            ease_weights=np.zeros((0, 0), np.float32),
        ),
    )
    publish(index_dir, building, "v1")
    return {
        "index_dir": index_dir,
        "movie_vectors": movie_vectors,
        "user_vectors": user_vectors,
        "movie_ids": movie_ids,
        "user_ids": user_ids,
        "rated_ptr": rated_ptr,
        "rated_rows": rated_rows,
        "rated_values": rated_values,
    }


def check_search(index, vectors: np.ndarray, queries: np.ndarray, k: int) -> None:  # noqa: ANN001
    scores, rows = index.search(queries, k)
    exact = queries.astype(np.float64) @ vectors.astype(np.float64).T
    order = np.argsort(-exact, axis=1, kind="stable")[:, :k]
    expected_scores = np.take_along_axis(exact, order, axis=1)
    assert rows.shape == (len(queries), k)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)
    for q in range(len(queries)):
        for got, want in zip(rows[q], order[q]):
            if got != want:  # only a near-tie may swap places
                assert abs(exact[q, got] - exact[q, want]) < 1e-6, (q, got, want)
    assert len({tuple(r) for r in rows}) > 1  # the queries do not all give the same answer


def test_artifact_roundtrip(written: dict) -> None:
    artifact = load_artifact(written["index_dir"])
    assert artifact.version == "v1" and artifact.dimensions == D
    np.testing.assert_array_equal(artifact.movie_ids, written["movie_ids"])
    np.testing.assert_array_equal(artifact.movie_vectors, written["movie_vectors"])
    np.testing.assert_array_equal(artifact.user_vectors, written["user_vectors"])
    np.testing.assert_array_equal(artifact.user_ids, written["user_ids"])
    np.testing.assert_array_equal(artifact.rated_ptr, written["rated_ptr"])
    np.testing.assert_array_equal(artifact.rated_rows, written["rated_rows"])
    np.testing.assert_array_equal(artifact.rated_values, written["rated_values"])
    j = 17
    np.testing.assert_array_equal(
        artifact.rated(j), written["rated_rows"][written["rated_ptr"][j] : written["rated_ptr"][j + 1]]
    )
    assert artifact.movie_row[int(written["movie_ids"][5])] == 5
    assert artifact.user_row[int(written["user_ids"][9])] == 9


@pytest.mark.parametrize("k", [1, 10, 100])
def test_movie_search_equals_brute_force(written: dict, k: int) -> None:
    artifact = load_artifact(written["index_dir"])
    queries = unit_rows(np.random.default_rng(k), 50, D)
    check_search(artifact.movie_index, written["movie_vectors"], queries, k)
    scores, rows = artifact.movie_index.search(queries, k)
    # Row numbers map back to the movie ids through movies.jsonl.
    assert [artifact.movies[r].movie_id for r in rows[0]] == [int(written["movie_ids"][r]) for r in rows[0]]


def test_user_search_equals_brute_force(written: dict) -> None:
    artifact = load_artifact(written["index_dir"])
    queries = unit_rows(np.random.default_rng(5), 50, D)
    check_search(artifact.user_index, written["user_vectors"], queries, 20)


def test_a_stored_vector_finds_itself_first(written: dict) -> None:
    artifact = load_artifact(written["index_dir"])
    picks = np.random.default_rng(11).choice(N_MOVIES, size=50, replace=False)
    scores, rows = artifact.movie_index.search(written["movie_vectors"][picks], 1)
    np.testing.assert_array_equal(rows[:, 0], picks)
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
