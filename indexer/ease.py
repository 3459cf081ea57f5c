"""EASE (Steck, 2019): a closed-form item-item model learned from who rated what.

B = argmin ||X - XB||² + λ||B||², diag(B) = 0, solved as P = (XᵀX + λI)⁻¹, B = -P / diag(P).
A user's collaborative score for every movie is x_u @ B, where x_u marks the movies they rated.

Its cost is the items × items matrix: memory grows with the square of the items it covers and the
inversion with the cube, and the server holds B in memory. So it covers at most `max_items` movies,
the most rated ones. The rarer rated movies beyond (the tail) get item-kNN scores instead
(`fit_tail`): each keeps its `neighbours` most similar rated movies (cosine of who rated them), a
sparse matrix whose memory grows with the tail linearly; its scores are put on EASE's scale by a
least-squares factor fitted on head movies, which both models score. README "Collaborative model
size" has the measurements.
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


def fit_ease(
    rated_ptr: np.ndarray, rated_rows: np.ndarray, n_movies: int, lam: float, max_items: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Fit EASE on the binary user x movie matrix given in CSR form.

    rated_ptr: int64 (n_users + 1,); rated_rows: int (n_ratings,) movie rows.
    Returns (items int32 (a,), weights float32 (a, a)) over the movies of `ease_items` (movies nobody
    rated get no collaborative score). X is kept sparse: only the a × a Gram matrix is dense.
    """
    items = ease_items(rated_rows, n_movies, max_items)
    if len(items) == 0:
        return items, np.zeros((0, 0), np.float32)
    x = rating_matrix(rated_ptr, rated_rows, n_movies)[:, items].astype(np.float64)
    gram = (x.T @ x).toarray()
    del x
    gram[np.diag_indices_from(gram)] += lam
    p = np.linalg.inv(gram)
    del gram
    weights = -p / np.diag(p)
    del p
    weights[np.diag_indices_from(weights)] = 0.0
    return items, weights.astype(np.float32)


def rating_matrix(rated_ptr: np.ndarray, rated_rows: np.ndarray, n_movies: int) -> scipy.sparse.csr_matrix:
    """The binary users x movies matrix, CSR float32 (n_users, n_movies): 1 where a user rated a movie,
    even if it is listed twice for them."""
    n_users = len(rated_ptr) - 1
    owner = np.repeat(np.arange(n_users), np.diff(rated_ptr))
    x = scipy.sparse.csr_matrix(
        (np.ones(len(rated_rows), np.float32), (owner, rated_rows)), shape=(n_users, n_movies), dtype=np.float32
    )
    x.sum_duplicates()
    x.data[:] = 1.0
    return x


def knn_columns(
    x: scipy.sparse.csr_matrix, columns: np.ndarray, neighbours: int, shrink: float = 0.0
) -> scipy.sparse.csr_matrix:
    """Item-kNN weights for these movie columns, CSR float32 (n_movies, len(columns)): column j holds the
    cosine similarity (of the binary rating columns) of its `neighbours` most similar other movies, zero
    elsewhere; `shrink` > 0 scales each by co / (co + shrink), co the users who rated both, so that a
    similarity resting on one or two shared users counts less. Ties at the cut keep the lower movie row."""
    counts = np.asarray(x.sum(axis=0), dtype=np.float64).ravel()
    co = (x.T @ x[:, columns]).tocsc()  # (n_movies, c) co-rating counts
    co.sort_indices()
    data, rows, cols = [], [], []
    for j in range(len(columns)):
        start, end = co.indptr[j], co.indptr[j + 1]
        r, c = co.indices[start:end], co.data[start:end].astype(np.float64)
        keep = r != columns[j]
        r, c = r[keep], c[keep]
        if not len(r):
            continue
        similarity = c / np.sqrt(counts[r] * counts[columns[j]]) * (c / (c + shrink))
        if len(r) > neighbours:
            best = np.lexsort((r, -similarity))[:neighbours]
            r, similarity = r[best], similarity[best]
        data.append(similarity)
        rows.append(r)
        cols.append(np.full(len(r), j))
    if not data:
        return scipy.sparse.csr_matrix((x.shape[1], len(columns)), dtype=np.float32)
    entries = (np.concatenate(data).astype(np.float32), (np.concatenate(rows), np.concatenate(cols)))
    return scipy.sparse.csr_matrix(entries, shape=(x.shape[1], len(columns)), dtype=np.float32)


def fit_tail(
    rated_ptr: np.ndarray,
    rated_rows: np.ndarray,
    n_movies: int,
    head: np.ndarray,
    head_weights: np.ndarray,
    neighbours: int = 50,
    shrink: float = 0.0,
    sample: int = 500,
    users_sample: int = 20_000,
    seed: int = 0,
) -> tuple[np.ndarray, scipy.sparse.csr_matrix]:
    """Item-kNN for the rated movies EASE leaves out (beyond its cap), on EASE's scale.

    head: int32 (a,) EASE's movie rows; head_weights: float32 (a, a) its B.
    Returns (tail int32 (t,) ascending, weights CSR float32 (n_movies, t)): a user's tail scores are the
    sum of the rows of the movies they rated, as EASE's are. The scale: the factor that best fits
    (least squares) the kNN scores of up to `sample` head movies to their EASE scores, for up to
    `users_sample` users. Empty when EASE covers every rated movie or `neighbours` is 0.
    """
    rated = np.flatnonzero(np.bincount(rated_rows, minlength=n_movies))
    tail = np.setdiff1d(rated, head).astype(np.int32)
    if not len(tail) or neighbours <= 0:
        return np.zeros(0, np.int32), scipy.sparse.csr_matrix((n_movies, 0), dtype=np.float32)
    x = rating_matrix(rated_ptr, rated_rows, n_movies)
    weights = knn_columns(x, tail, neighbours, shrink)
    if len(head):
        rng = np.random.default_rng(seed)
        probe = np.sort(rng.choice(len(head), size=min(sample, len(head)), replace=False))
        users = np.sort(rng.choice(x.shape[0], size=min(users_sample, x.shape[0]), replace=False))
        x_users = x[users]
        knn = (x_users @ knn_columns(x, head[probe], neighbours, shrink)).toarray()  # (u, s)
        xh = x_users[:, head]  # (u, a)
        ease = np.asarray(xh @ head_weights[:, probe], dtype=np.float64)  # (u, s)
        denominator = float(np.square(knn).sum())
        if denominator > 0:
            weights = weights * np.float32(max(float((ease * knn).sum()) / denominator, 0.0))
    return tail, weights.tocsr().astype(np.float32)
