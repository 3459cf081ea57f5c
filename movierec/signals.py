"""The signals: one registry of their names and meanings, and their computation over a batch's candidates.

`REGISTRY` is the one place a signal is declared: its computation, what it needs, its scale (how the
combine stage puts it on the common scale, movierec.combine), its meaning and its default weights. The
settings (movierec.settings), combine, the learned scorer's inputs, the explanations and the
server's index description read it when they run, so adding a signal is adding an entry (and its tests).

Each signal is a (B, C) array over the candidates, computed with one batched product:
    prompt         candidates . query (the mood's embedding, moved towards any examples)
    match          IDF-weighted share of the tags the mood names, and of the examples' tags (movierec.lexical)
    genre_fit      the mean over the movie's genres of the query's cosine to that genre's centroid
    collaborative  EASE scores of the examples, else of the user's history: x @ B (item-kNN beyond EASE's cap)
    community      similarity (B, n_users) sparse @ centred ratings (n_users, n_movies) sparse
    taste          movies . the user's taste vector (once per profile)
    quality        TMDB vote average shrunk towards the mean by vote count
    popularity     log(1 + TMDB vote count): how widely the movie has been seen
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from movierec.batch import Batch

if TYPE_CHECKING:
    from movierec.features import IndexFeatures
    from movierec.settings import RankingConfig

# The most values the community signal makes dense at once (rows of the batch's sparse product).
DENSE_ROWS_MAX_VALUES = 4_000_000


# A signal's computation: the batch's values over its candidates, float32 (B, C), or None when it has
# nothing to say for this batch.
SignalFn = Callable[["IndexFeatures", "RankingConfig", Batch], "np.ndarray | None"]


@dataclass(frozen=True)
class Signal:
    """One signal, registered with its computation and its default weights.

    needs: "prompt" (a mood or examples), "user", "user or examples", "query" (any of them), or ""
    (always applies); scale: "dense" (standardised over the candidates) or "share" (already 0..1, kept
    as it is); compute: its values for a batch (called only when it applies to some request).
    weight: its default weight for requests with a user; anonymous_weight: for requests without one;
    conversation_weight: for anonymous conversations, None to use anonymous_weight (the defaults are
    the ones `make eval` chose on validation; settings override them by name)."""

    name: str
    needs: str
    scale: str
    meaning: str
    compute: SignalFn = field(compare=False, repr=False)
    weight: float = 0.0
    anonymous_weight: float = 0.0
    conversation_weight: float | None = None


def _prompt(features: IndexFeatures, config: RankingConfig, batch: Batch) -> np.ndarray:
    if batch.prompt_all is not None:
        return np.take_along_axis(batch.prompt_all, batch.candidates, axis=1)
    return gathered_products(features.index.movie_vectors, batch.candidates, batch.queries)


def _match(features: IndexFeatures, config: RankingConfig, batch: Batch) -> np.ndarray | None:
    return np.take_along_axis(batch.match, batch.candidates, axis=1) if batch.match is not None else None


def _genre_fit(features: IndexFeatures, config: RankingConfig, batch: Batch) -> np.ndarray:
    # Each genre's closeness to the query, averaged over each candidate's genres (only the candidates'
    # rows of the sparse movie x genre shares are read).
    candidates = batch.candidates
    b, width = candidates.shape
    fit = batch.queries @ features.genre_centroids.T  # (B, G)
    if features.exact:  # a catalogue small enough to score whole: one sparse product
        per_movie = np.asarray(features.genre_share @ fit.T, dtype=np.float32).T  # (B, n_movies)
        return np.take_along_axis(per_movie, candidates, axis=1)
    shares = features.genre_share[candidates.ravel()]  # (B*C, G)
    weighted = shares.multiply(np.repeat(fit, width, axis=0))
    return np.asarray(weighted.sum(axis=1), dtype=np.float32).reshape(b, width)


def _collaborative(features: IndexFeatures, config: RankingConfig, batch: Batch) -> np.ndarray:
    # Position -1 (a movie outside the model, or every movie when the model is empty) reads the 0
    # appended to each request's scores.
    width = batch.candidates.shape[1]
    position = features.collaborative_position[batch.candidates]  # (B, C)
    return np.stack(
        [
            np.append(c, np.float32(0))[position[i]] if c is not None else np.zeros(width, np.float32)
            for i, c in enumerate(batch.collaborative)
        ]
    )


def _taste(features: IndexFeatures, config: RankingConfig, batch: Batch) -> np.ndarray:
    candidates, width = batch.candidates, batch.candidates.shape[1]
    if features.exact:  # each profile scored the whole catalogue once
        return np.stack(
            [
                r.user.taste_scores[candidates[i]]  # type: ignore[index]
                if r.user is not None
                else np.zeros(width, np.float32)
                for i, r in enumerate(batch.requests)
            ]
        )
    dimensions = features.index.dimensions
    tastes = np.stack(
        [r.user.taste if r.user is not None else np.zeros(dimensions, np.float32) for r in batch.requests]
    )
    return gathered_products(features.index.movie_vectors, candidates, tastes)


def _quality(features: IndexFeatures, config: RankingConfig, batch: Batch) -> np.ndarray:
    return features.quality[batch.candidates]


def _popularity(features: IndexFeatures, config: RankingConfig, batch: Batch) -> np.ndarray:
    return features.popularity[batch.candidates]


def gathered_products(vectors: np.ndarray, candidates: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Inner products of the candidates' vectors (rows int64 (B, C) of vectors (n, d)) with queries (B, d): (B, C)."""
    return np.matmul(vectors[candidates], queries[:, :, None])[:, :, 0]


def community(features: IndexFeatures, config: RankingConfig, batch: Batch) -> np.ndarray:
    """Similarity-weighted centred ratings of the candidates by the K users nearest each query: (B, C).
    Zero for requests without a query vector, and when the index has no users."""
    index, candidates = features.index, batch.candidates
    out = np.zeros(candidates.shape, dtype=np.float32)
    k = min(config.similar_users, index.user_index.ntotal)
    if k == 0 or not batch.has_query.any():
        return out
    # One more than K, since the requester is usually among their own nearest users.
    sims, similar = index.user_index.search(batch.queries, min(k + 1, index.user_index.ntotal))  # (B, K+1)
    # Each request's K nearest other users, weighted by similarity (clipped at 0, summing to 1).
    own = np.array([r.user.row if r.user is not None and r.user.row is not None else -1 for r in batch.requests])
    keep = (similar >= 0) & (similar != own[:, None]) & batch.has_query[:, None]
    keep &= np.cumsum(keep, axis=1) <= k
    weights = np.where(keep, np.maximum(sims, 0), 0)
    weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
    ratings, n_movies = features.ratings, len(index.movies)
    step = max(1, DENSE_ROWS_MAX_VALUES // max(1, n_movies))  # a few requests at a time on big catalogues
    for lo in range(0, len(out), step):
        # The neighbours' rows of the CSR ratings, each value times its weight, summed per (request, movie)
        # in one bincount: the batch's (requests, n_users) weights @ ratings without a sparse matrix.
        request, slot = np.nonzero(keep[lo : lo + step])
        users = similar[lo : lo + step][request, slot]
        starts, lengths = ratings.indptr[users], ratings.indptr[users + 1] - ratings.indptr[users]
        spans = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        cells = np.repeat(request * n_movies, lengths) + ratings.indices[spans]
        values = ratings.data[spans] * np.repeat(weights[lo : lo + step][request, slot], lengths)
        rows = min(step, len(out) - lo)
        mixed = np.bincount(cells, weights=values, minlength=rows * n_movies).reshape(rows, n_movies)
        out[lo : lo + step] = np.take_along_axis(mixed, candidates[lo : lo + step], axis=1)
    return out


REGISTRY: tuple[Signal, ...] = (
    Signal(
        "prompt",
        "prompt",
        "dense",
        "how close the movie's text is to the mood (and any example movies)",
        _prompt,
        weight=0.5,
        anonymous_weight=0.25,
        conversation_weight=1.0,
    ),
    Signal(
        "match",
        "prompt",
        "share",
        "share of the genres and keywords the mood names (and the examples carry)",
        _match,
        weight=0.5,
        anonymous_weight=0.5,
    ),
    Signal(
        "genre_fit",
        "prompt",
        "dense",
        "how well the movie's genres fit the mood: the mood's closeness to the typical movie of each of them",
        _genre_fit,
        weight=0.25,
        anonymous_weight=0.5,
    ),
    Signal(
        "collaborative",
        "user or examples",
        "dense",
        "what people who watched the examples, or this user's movies, also watched (EASE)",
        _collaborative,
        weight=1.0,
        anonymous_weight=1.0,
    ),
    Signal(
        "community",
        "query",
        "dense",
        "how users with a similar taste rated it",
        community,
        weight=0.25,
        anonymous_weight=0.25,
    ),
    # An anonymous request has no taste vector: its anonymous weight stays 0.
    Signal("taste", "user", "dense", "how close it is to the user's own taste vector", _taste, weight=1.0),
    Signal(
        "quality",
        "",
        "dense",
        "TMDB review score, shrunk towards the mean for few votes",
        _quality,
        weight=0.25,
        anonymous_weight=0.25,
    ),
    Signal(
        "popularity",
        "",
        "dense",
        "how many people voted for it on TMDB (log)",
        _popularity,
        weight=0.25,
        anonymous_weight=2.0,
        conversation_weight=3.0,
    ),
)


def names() -> tuple[str, ...]:
    """The registered signals' names, in the registry's order (read when called, so an entry added later counts)."""
    return tuple(s.name for s in REGISTRY)


def by_name(name: str) -> Signal:
    """The registered signal called `name` (KeyError when there is none)."""
    for signal in REGISTRY:
        if signal.name == name:
            return signal
    raise KeyError(name)


def applies(name: str, batch: Batch) -> np.ndarray:
    """bool (B,): the requests a signal applies to."""
    needs = by_name(name).needs
    if needs == "prompt":
        return batch.has_prompt
    if needs == "user":
        return batch.has_user
    if needs == "user or examples":
        return batch.has_user | batch.has_examples
    if needs == "query":
        return batch.has_query
    return np.ones(len(batch.requests), dtype=bool)


def compute(features: IndexFeatures, config: RankingConfig, batch: Batch) -> dict[str, np.ndarray]:
    """The active signals that apply to any request of the batch, in the registry's order: name -> float32 (B, C)."""
    out: dict[str, np.ndarray] = {}
    for signal in REGISTRY:
        if signal.name in batch.active and applies(signal.name, batch).any():
            values = signal.compute(features, config, batch)
            if values is not None:
                out[signal.name] = values
    return out
