"""User taste vectors from ratings and movie embeddings (used by the indexer, and by the server for live updates)."""

from __future__ import annotations

import numpy as np


def group_by_user(user_index: np.ndarray, n_users: int) -> np.ndarray:
    """CSR pointer for rows sorted by user: int64 (n_users + 1,). `user_index` must be sorted."""
    counts = np.bincount(user_index, minlength=n_users)
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def centroid_taste_vectors(movie_vectors: np.ndarray, rated_ptr: np.ndarray, rated_rows: np.ndarray) -> np.ndarray:
    """The original design's user vector: the centroid of the embeddings of the movies a user rated,
    scaled to unit length so that inner products compare like cosines.

    movie_vectors: float32 (n_movies, d); rated_ptr: int64 (n_users + 1,); rated_rows: int (n_ratings,).
    Returns float32 (n_users, d); a user with no ratings gets a zero vector.
    """
    n_users = len(rated_ptr) - 1
    d = movie_vectors.shape[1]
    sums = np.zeros((n_users, d), dtype=np.float64)
    owner = np.repeat(np.arange(n_users), np.diff(rated_ptr))
    np.add.at(sums, owner, movie_vectors[rated_rows].astype(np.float64))
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return (sums / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def centred_taste_vectors(
    movie_vectors: np.ndarray, rated_ptr: np.ndarray, rated_rows: np.ndarray, rated_values: np.ndarray
) -> np.ndarray:
    """Taste vectors that know likes from dislikes: sum of (rating - the user's mean rating) x movie
    embedding, scaled to unit length. Movies rated above a user's average pull towards them, movies
    rated below push away. A user whose ratings are all equal falls back to the plain centroid.

    movie_vectors: float32 (n_movies, d); rated_ptr: int64 (n_users + 1,); rated_rows: int (n_ratings,);
    rated_values: float32 (n_ratings,). Returns float32 (n_users, d).
    """
    n_users = len(rated_ptr) - 1
    counts = np.diff(rated_ptr)
    owner = np.repeat(np.arange(n_users), counts)
    means = np.bincount(owner, weights=rated_values, minlength=n_users) / np.maximum(counts, 1)
    weights = (rated_values - means[owner]).astype(np.float64)
    sums = np.zeros((n_users, movie_vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, owner, movie_vectors[rated_rows].astype(np.float64) * weights[:, None])
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    centred = sums / np.where(norms > 1e-9, norms, 1.0)
    flat = norms.ravel() <= 1e-9
    if flat.any():
        centred[flat] = centroid_taste_vectors(movie_vectors, rated_ptr, rated_rows)[flat]
    return centred.astype(np.float32)


def taste_vectors(
    kind: str, movie_vectors: np.ndarray, rated_ptr: np.ndarray, rated_rows: np.ndarray, rated_values: np.ndarray
) -> np.ndarray:
    """The setting `taste_vectors`' kind ("centroid" or "centred") of every user's vector: float32 (n_users, d)."""
    if kind == "centroid":
        return centroid_taste_vectors(movie_vectors, rated_ptr, rated_rows)
    return centred_taste_vectors(movie_vectors, rated_ptr, rated_rows, rated_values)
