from __future__ import annotations

import numpy as np

from movierec.indexer.ease import fit_ease, fit_tail, knn_columns, rating_matrix
from movierec.taste import group_by_user


def test_fit_ease_solves_the_closed_form() -> None:
    rng = np.random.default_rng(3)
    n_users, n_movies, lam = 60, 40, 7.0
    x = (rng.random((n_users, n_movies)) < 0.2).astype(np.float64)
    x[:, 5] = 0  # a movie nobody rated
    owner, rows = np.nonzero(x)
    items, weights = fit_ease(group_by_user(owner, n_users), rows.astype(np.int32), n_movies, lam)
    assert 5 not in items.tolist() and len(items) == n_movies - 1
    # Reference on the full matrix: B = I - P / diag(P), P = (XᵀX + λI)⁻¹; the unrated column is all zeros.
    p = np.linalg.inv(x.T @ x + lam * np.eye(n_movies))
    b = np.eye(n_movies) - p / np.diag(p)
    np.testing.assert_allclose(weights, b[np.ix_(items, items)], atol=1e-5)
    np.testing.assert_array_equal(np.diag(weights), 0)
    # The zero-diagonal least-squares optimum: its gradient vanishes off the diagonal.
    full = np.zeros((n_movies, n_movies))
    full[np.ix_(items, items)] = weights
    gradient = x.T @ (x @ full - x) + lam * full
    off = ~np.eye(n_movies, dtype=bool)
    np.testing.assert_allclose(gradient[np.ix_(items, items)][off[np.ix_(items, items)]], 0, atol=1e-4)


def test_no_ratings_gives_an_empty_model() -> None:
    items, weights = fit_ease(np.zeros(3, np.int64), np.zeros(0, np.int32), 10, 1.0)
    assert items.shape == (0,) and weights.shape == (0, 0)


def test_max_items_keeps_the_most_rated_movies_and_solves_ease_over_them() -> None:
    rng = np.random.default_rng(5)
    n_users, n_movies, lam, cap = 80, 30, 5.0, 12
    popularity = np.linspace(0.6, 0.05, n_movies)
    x = (rng.random((n_users, n_movies)) < popularity).astype(np.float64)
    owner, rows = np.nonzero(x)
    items, weights = fit_ease(group_by_user(owner, n_users), rows.astype(np.int32), n_movies, lam, max_items=cap)
    counts = x.sum(axis=0)
    assert len(items) == cap and items.tolist() == sorted(items.tolist())
    assert counts[items].min() >= np.delete(counts, items).max()  # no movie left out is rated more
    # Brute force: EASE on the matrix with only those columns.
    sub = x[:, items]
    p = np.linalg.inv(sub.T @ sub + lam * np.eye(cap))
    np.testing.assert_allclose(weights, np.eye(cap) - p / np.diag(p), atol=1e-5)
    # No cap, or a cap above the rated count: every rated movie, as before.
    assert len(fit_ease(group_by_user(owner, n_users), rows.astype(np.int32), n_movies, lam, max_items=100)[0]) == int(
        (counts > 0).sum()
    )


def rated_matrix(seed: int, n_users: int = 70, n_movies: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (rng.random((n_users, n_movies)) < np.linspace(0.5, 0.04, n_movies)).astype(np.float64)
    x[:, 7] = 0  # a movie nobody rated
    return x


def csr_of(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    owner, rows = np.nonzero(x)
    return group_by_user(owner, len(x)), rows.astype(np.int32)


def brute_knn(x: np.ndarray, columns: np.ndarray, k: int) -> np.ndarray:
    """Dense reference: cosine of the binary columns, self excluded, k best per column (ties: lower row)."""
    counts = x.sum(axis=0)
    cosine = (x.T @ x) / np.sqrt(np.outer(counts, counts) + 1e-300)
    out = np.zeros((x.shape[1], len(columns)))
    for j, c in enumerate(columns):
        similarity = cosine[:, c].copy()
        similarity[c] = 0
        candidates = [r for r in np.lexsort((np.arange(len(similarity)), -similarity)) if similarity[r] > 0][:k]
        out[candidates, j] = similarity[candidates]
    return out


def test_knn_columns_keep_each_movies_most_similar_others() -> None:
    x = rated_matrix(1)
    ptr, rows = csr_of(x)
    columns = np.array([3, 10, 20, 39])
    for k in (3, 100):
        got = knn_columns(rating_matrix(ptr, rows, x.shape[1]), columns, k).toarray()
        np.testing.assert_allclose(got, brute_knn(x, columns, k), atol=1e-6)
        assert ((got > 0).sum(axis=0) <= k).all()


def test_fit_tail_scores_the_rated_movies_beyond_the_cap_on_eases_scale() -> None:
    x = rated_matrix(2)
    ptr, rows = csr_of(x)
    head, b = fit_ease(ptr, rows, x.shape[1], 5.0, max_items=15)
    tail, weights = fit_tail(ptr, rows, x.shape[1], head, b, neighbours=6, sample=1000, users_sample=1000)
    rated = np.flatnonzero(x.sum(axis=0))
    assert tail.tolist() == sorted(set(rated.tolist()) - set(head.tolist())) and 7 not in tail.tolist()
    assert weights.shape == (x.shape[1], len(tail))
    # The scale: least squares of every head movie's kNN scores onto its EASE scores, every user (brute force).
    knn_head = x @ brute_knn(x, head, 6)
    ease = x[:, head] @ b
    scale = (ease * knn_head).sum() / np.square(knn_head).sum()
    assert scale > 0
    np.testing.assert_allclose(weights.toarray(), scale * brute_knn(x, tail, 6), rtol=1e-4, atol=1e-7)
    # Off, or nothing beyond the cap: no tail.
    assert len(fit_tail(ptr, rows, x.shape[1], head, b, neighbours=0)[0]) == 0
    everything, b_all = fit_ease(ptr, rows, x.shape[1], 5.0)
    empty, none = fit_tail(ptr, rows, x.shape[1], everything, b_all)
    assert len(empty) == 0 and none.shape == (x.shape[1], 0)
