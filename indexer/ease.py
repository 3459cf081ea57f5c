"""EASE (Steck, 2019): a closed-form item-item model learned from who rated what.

B = argmin ||X - XB||² + λ||B||², diag(B) = 0, solved as P = (XᵀX + λI)⁻¹, B = -P / diag(P).
A user's collaborative score for every movie is x_u @ B, where x_u marks the movies they rated.
"""

from __future__ import annotations

import numpy as np


def fit_ease(rated_ptr: np.ndarray, rated_rows: np.ndarray, n_movies: int, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Fit EASE on the binary user x movie matrix given in CSR form.

    rated_ptr: int64 (n_users + 1,); rated_rows: int (n_ratings,) movie rows.
    Returns (items int32 (a,), weights float32 (a, a)) over the a movies that have any rating,
    which keeps the matrix to invert small (movies nobody rated get no collaborative score).
    """
    items = np.unique(rated_rows).astype(np.int32)
    if len(items) == 0:
        return items, np.zeros((0, 0), np.float32)
    position = np.full(n_movies, -1, dtype=np.int64)
    position[items] = np.arange(len(items))
    n_users = len(rated_ptr) - 1
    owner = np.repeat(np.arange(n_users), np.diff(rated_ptr))
    x = np.zeros((n_users, len(items)), dtype=np.float64)
    x[owner, position[rated_rows]] = 1.0
    gram = x.T @ x
    gram[np.diag_indices_from(gram)] += lam
    p = np.linalg.inv(gram)
    weights = -p / np.diag(p)
    weights[np.diag_indices_from(weights)] = 0.0
    return items, weights.astype(np.float32)
