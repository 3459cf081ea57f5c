"""User taste vectors: CSR grouping by user and unit-length centroids of rated movies."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.taste import centroid_taste_vectors, group_by_user


def unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    v = rng.standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def random_csr(rng: np.random.Generator, n_users: int, n_movies: int) -> tuple[np.ndarray, np.ndarray]:
    counts = rng.integers(0, 12, size=n_users)
    counts[0] = 0  # a user with no ratings first,
    counts[n_users // 2] = 0  # in the middle,
    counts[-1] = 0  # and last
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    rows = rng.integers(0, n_movies, size=int(ptr[-1])).astype(np.int32)
    return ptr, rows


def reference_centroids(movie_vectors: np.ndarray, ptr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    out = np.zeros((len(ptr) - 1, movie_vectors.shape[1]))
    for j in range(len(ptr) - 1):
        total = np.zeros(movie_vectors.shape[1])
        for r in rows[ptr[j] : ptr[j + 1]]:
            total += movie_vectors[r].astype(np.float64)
        norm = np.linalg.norm(total)
        out[j] = total / norm if norm > 0 else total
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_centroids_equal_a_plain_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    movies = unit_rows(rng, 80, 24)
    ptr, rows = random_csr(rng, 40, 80)
    got = centroid_taste_vectors(movies, ptr, rows)
    assert got.dtype == np.float32 and got.shape == (40, 24)
    np.testing.assert_allclose(got, reference_centroids(movies, ptr, rows), atol=1e-6)
    counts = np.diff(ptr)
    norms = np.linalg.norm(got, axis=1)
    np.testing.assert_allclose(norms[counts > 0], 1.0, atol=1e-5)
    assert np.all(got[counts == 0] == 0.0)


def test_single_rating_gives_that_movie_and_repeats_weigh_more() -> None:
    movies = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    ptr = np.array([0, 1, 4, 4], dtype=np.int64)
    rows = np.array([2, 0, 0, 1], dtype=np.int32)
    got = centroid_taste_vectors(movies, ptr, rows)
    np.testing.assert_allclose(got[0], [0, 0, 1], atol=1e-7)
    np.testing.assert_allclose(got[1], np.array([2, 1, 0]) / np.sqrt(5), atol=1e-6)
    np.testing.assert_array_equal(got[2], [0, 0, 0])


def test_opposite_movies_cancel_to_a_zero_vector() -> None:
    movies = np.array([[1, 0], [-1, 0]], dtype=np.float32)
    got = centroid_taste_vectors(movies, np.array([0, 2], dtype=np.int64), np.array([0, 1], dtype=np.int32))
    assert np.all(np.isfinite(got)) and np.all(got == 0.0)


def test_no_users_at_all() -> None:
    got = centroid_taste_vectors(np.ones((3, 4), np.float32), np.array([0], np.int64), np.array([], np.int32))
    assert got.shape == (0, 4) and got.dtype == np.float32


def test_group_by_user_equals_a_plain_loop() -> None:
    rng = np.random.default_rng(7)
    n_users = 25
    user_index = np.sort(rng.integers(0, n_users - 3, size=300))  # the last 3 users have no rows
    ptr = group_by_user(user_index, n_users)
    assert ptr.dtype == np.int64 and ptr.shape == (n_users + 1,)
    assert ptr[0] == 0 and ptr[-1] == len(user_index)
    for j in range(n_users):
        expected = np.flatnonzero(user_index == j)
        segment = np.arange(ptr[j], ptr[j + 1])
        if len(expected):
            np.testing.assert_array_equal(segment, expected)
        else:
            assert len(segment) == 0
    assert np.all(np.diff(ptr)[-3:] == 0)


def test_group_by_user_empty() -> None:
    np.testing.assert_array_equal(group_by_user(np.array([], dtype=np.int64), 2), [0, 0, 0])
