from __future__ import annotations

import numpy as np

from movierec.indexer.ease import fit_ease
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
    assert len(fit_ease(group_by_user(owner, n_users), rows.astype(np.int32), n_movies, lam, max_items=100)[0]) \
        == int((counts > 0).sum())
