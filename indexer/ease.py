"""EASE (Steck, 2019): a closed-form item-item model learned from who rated what.

B = argmin ||X - XB||² + λ||B||², diag(B) = 0, solved as P = (XᵀX + λI)⁻¹, B = -P / diag(P).
A user's collaborative score for every movie is x_u @ B, where x_u marks the movies they rated.

Its cost is the items × items matrix: memory grows with the square of the items it covers and the
inversion with the cube, and the server holds B in memory. So it covers at most `max_items` movies,
the most rated ones; a rarer movie gets no collaborative score, as a movie nobody rated never had
(the other signals still rank it). README "Collaborative model size" has the measurements.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse


def ease_items(rated_rows: np.ndarray, n_movies: int, max_items: int = 0) -> np.ndarray:
    """The movie rows EASE covers, int32 (a,) ascending: every rated movie, or with `max_items` > 0 at most
    that many, the most rated first (ties: the lower row)."""
    counts = np.bincount(rated_rows, minlength=n_movies)
    items = np.flatnonzero(counts)
    if 0 < max_items < len(items):
        keep = np.argsort(-counts[items], kind="stable")[:max_items]
        items = np.sort(items[keep])
    return items.astype(np.int32)


def fit_ease(rated_ptr: np.ndarray, rated_rows: np.ndarray, n_movies: int, lam: float,
             max_items: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fit EASE on the binary user x movie matrix given in CSR form.

    rated_ptr: int64 (n_users + 1,); rated_rows: int (n_ratings,) movie rows.
    Returns (items int32 (a,), weights float32 (a, a)) over the movies of `ease_items` (movies nobody
    rated get no collaborative score). X is kept sparse: only the a × a Gram matrix is dense.
    """
    items = ease_items(rated_rows, n_movies, max_items)
    if len(items) == 0:
        return items, np.zeros((0, 0), np.float32)
    position = np.full(n_movies, -1, dtype=np.int64)
    position[items] = np.arange(len(items))
    n_users = len(rated_ptr) - 1
    owner = np.repeat(np.arange(n_users), np.diff(rated_ptr))
    covered = position[rated_rows] >= 0
    x = scipy.sparse.csr_matrix((np.ones(int(covered.sum())), (owner[covered], position[rated_rows[covered]])),
                                shape=(n_users, len(items)), dtype=np.float64)
    x.sum_duplicates()
    x.data[:] = 1.0  # binary, even if a movie is listed twice for a user
    gram = (x.T @ x).toarray()
    del x
    gram[np.diag_indices_from(gram)] += lam
    p = np.linalg.inv(gram)
    del gram
    weights = -p / np.diag(p)
    del p
    weights[np.diag_indices_from(weights)] = 0.0
    return items, weights.astype(np.float32)
