"""Retrieve: each request's candidate movies, the union of three searches, inside its allowed movies.

For a batch of B requests: the `candidate_movies` nearest the query (for an exact index one
product with the movie matrix per batch and a partition; FAISS IVF above `exact_search_max`),
the `match_candidates` best tag matches, and the `collaborative_candidates` best EASE scores of
the request's examples or user, so that a narrow prompt search cannot cut off a user's favourites.
A request without a query vector (constraints only) takes the allowed movies with the best
review prior. Rated movies are left out unless asked; the hard constraints' mask applies to all.
The members of a group (batch.shared) share one pool: the union of their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from movierec.batch import Batch, Candidates
from movierec.topk import positive_top_k, top_k_set

if TYPE_CHECKING:
    from movierec.features import IndexFeatures
    from movierec.settings import RankingConfig

# Above this many allowed movies an approximate index is searched wider and filtered, rather
# than every allowed movie scored.
SCORE_ALLOWED_MAX = 200_000


def products(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """queries (q, d) . vectors (n, d) -> float32 (q, n), contiguous.

    Shaped for speed on one core: a matrix-vector product per query while there are few
    (memory-bound: each reads the matrix once), else one (n, d) @ (d, q) product, which ran
    faster here than the same product written (q, d) @ (d, n).
    """
    if len(queries) <= 4:
        return np.stack([vectors @ q for q in queries]) if len(queries) else np.zeros((0, len(vectors)), np.float32)
    return np.ascontiguousarray((vectors @ queries.T).T)


def nearest_allowed(scores: np.ndarray, allowed: np.ndarray | None, k: int) -> np.ndarray:
    """Rows of the k best scores (n_movies,) among the allowed movies (bool (n_movies,) or None)."""
    if allowed is None:
        return top_k_set(scores, k)
    rows = np.flatnonzero(allowed)
    return rows[top_k_set(scores[rows], k)]


def retrieve(features: IndexFeatures, cfg: RankingConfig, batch: Batch) -> Candidates:
    """The batch's candidates (see Candidates)."""
    index = features.index
    n_movies = len(index.movies)
    k = min(cfg.candidate_movies, n_movies)
    requests, queries = batch.requests, batch.queries
    if features.exact:
        # What IndexFlatIP.search computes, with a partition in place of its heap.
        prompt_all = products(index.movie_vectors, queries)  # (B, n_movies)
        nearest = [
            nearest_allowed(prompt_all[i] if batch.has_query[i] else features.quality, r.allowed, k)
            for i, r in enumerate(requests)
        ]
    else:
        prompt_all = None
        nearest = list(index.movie_index.search(queries, k)[1])
        for i, r in enumerate(requests):
            if r.allowed is None and batch.has_query[i]:
                continue
            allowed = np.flatnonzero(r.allowed) if r.allowed is not None else np.arange(n_movies)
            if len(allowed) > SCORE_ALLOWED_MAX and batch.has_query[i]:  # search wider, then filter
                found = index.movie_index.search(queries[i : i + 1], 8 * k)[1][0]
                nearest[i] = found[(found >= 0) & r.allowed[np.maximum(found, 0)]][:k]  # type: ignore[index]
                continue
            scores = (index.movie_vectors[allowed] @ queries[i]) if batch.has_query[i] else features.quality[allowed]
            nearest[i] = allowed[top_k_set(scores, k)]
    pools = []
    chosen = np.zeros(n_movies, dtype=bool)
    for i, r in enumerate(requests):
        chosen[nearest[i][nearest[i] >= 0]] = True
        if batch.match is not None and batch.has_prompt[i]:
            positive = np.flatnonzero(batch.match[i] > 0)
            chosen[positive[top_k_set(batch.match[i][positive], cfg.match_candidates)]] = True
        collaborative = batch.collaborative[i]
        if collaborative is not None:
            if batch.has_examples[i] or r.user is None:
                chosen[positive_top_k(collaborative, cfg.collaborative_candidates, features.collaborative_items)] = True
            else:
                chosen[r.user.top_collaborative(cfg.collaborative_candidates, features.collaborative_items)] = True
        if r.user is not None and not r.include_rated:
            chosen[r.user.rated_rows] = False
        if r.allowed is not None:
            chosen &= r.allowed
        pools.append(np.flatnonzero(chosen))
        chosen[pools[-1]] = False
    own = list(pools)
    for rows in batch.shared:  # a group's members rank the union of their pools
        union = np.unique(np.concatenate([pools[i] for i in rows]))
        for i in rows:
            pools[i] = union
    width = max(1, max(len(p) for p in pools))
    candidates = np.zeros((len(requests), width), dtype=np.int64)
    valid = np.zeros((len(requests), width), dtype=bool)
    for i, pool in enumerate(pools):
        candidates[i, : len(pool)] = pool
        valid[i, : len(pool)] = True
    own_mask = valid
    if batch.shared:
        own_mask = valid.copy()
        for rows in batch.shared:
            for i in rows:
                own_mask[i, : len(pools[i])] = np.isin(pools[i], own[i], assume_unique=True)
    return Candidates(candidates, valid, own_mask, prompt_all)
