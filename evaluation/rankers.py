"""Rankers under evaluation: the production ranking (through the server's code) and references.

Every ranker answers `rank(requests, limit) -> list of movie-row lists`, best first, leaving out
the movies each user rated in the training split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from movierec.artifact import IndexArtifact
from movierec.domain import RecommendQuery, Turn
from movierec.ranking import RankingConfig
from movierec.recommender import Recommender
from movierec.understanding import Understood

BATCH = 64


@dataclass(frozen=True)
class EvalRequest:
    prompt: str
    user_id: int | None
    conversation: tuple[Turn, ...] = ()  # earlier turns, oldest first (the prompt, when set, is the last)


class EvalRanker(Protocol):
    name: str

    def rank(self, requests: Sequence[EvalRequest], limit: int) -> list[list[int]]: ...


class MemoEncoder:
    """Wraps an Encoder so repeated prompts are embedded once (same vectors, same interface).

    `catalogue`: what the evaluation's index builds embed the catalogue with, as the production
    indexer does (`index_encoder_backend`); by default this same encoder."""

    def __init__(self, encoder, catalogue=None):  # noqa: ANN001 - an Encoder or another MemoEncoder
        self.inner = encoder
        self.catalogue = catalogue if catalogue is not None else self
        self.dimensions = encoder.dimensions
        self.name = encoder.name
        self.model_dir = encoder.model_dir
        self.max_seq_length = encoder.max_seq_length
        self.backend = encoder.backend
        self.fingerprint = encoder.fingerprint
        self._memo: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str], progress=None, threads: int | None = None) -> np.ndarray:  # noqa: ANN001
        missing = sorted({t for t in texts if t not in self._memo})
        if missing:
            for text, vector in zip(missing, self.inner.encode(missing, threads=threads)):
                self._memo[text] = vector
        return np.stack([self._memo[t] for t in texts]) if texts else np.zeros((0, self.dimensions), np.float32)


class ProductionRanker:
    """The server's ranking: Recommender.recommend_batch, optionally under other weights (ablations).

    understand=False skips the understanding stage: the whole prompt is the mood, nothing is a
    constraint (how the previous ranking read requests)."""

    def __init__(
        self, name: str, recommender: Recommender, config: RankingConfig | None = None, understand: bool = True
    ):
        self.name = name
        self.recommender = recommender if config is None else recommender.with_config(config)
        self.understand = understand

    def rank(self, requests: Sequence[EvalRequest], limit: int) -> list[list[int]]:
        movie_row = self.recommender.index.movie_row
        out: list[list[int]] = []
        for start in range(0, len(requests), BATCH):
            chunk = requests[start : start + BATCH]
            queries = [
                RecommendQuery(prompt=r.prompt, user_id=r.user_id, limit=limit, conversation=r.conversation)
                for r in chunk
            ]
            understood = None if self.understand else [Understood(mood=q.prompt) for q in queries]
            for result in self.recommender.recommend_batch(queries, understood=understood):
                out.append([movie_row[m.movie.movie_id] for m in result.movies])
        return out


def user_item_matrix(index: IndexArtifact) -> np.ndarray:
    """Binary float32 (n_users, n_movies): 1 where the user rated the movie in the training split."""
    x = np.zeros((len(index.user_ids), len(index.movies)), dtype=np.float32)
    owner = np.repeat(np.arange(len(index.user_ids)), np.diff(index.rated_ptr))
    x[owner, index.rated_rows] = 1.0
    return x


class _ScoreRanker:
    """Base for references that score the whole catalogue per user."""

    name = "reference"

    def __init__(self, index: IndexArtifact):
        self.index = index
        self.x = user_item_matrix(index)

    def scores(self, user_rows: np.ndarray) -> np.ndarray:  # (B, n_movies)
        raise NotImplementedError

    def rank(self, requests: Sequence[EvalRequest], limit: int) -> list[list[int]]:
        out: list[list[int]] = []
        for start in range(0, len(requests), 256):
            chunk = requests[start : start + 256]
            rows = np.array([self.index.user_row.get(r.user_id, -1) if r.user_id is not None else -1 for r in chunk])
            known = rows >= 0
            scores = np.empty((len(chunk), self.x.shape[1]), dtype=np.float64)
            if known.any():
                personal = self.scores(rows[known]).astype(np.float64)
                personal[self.x[rows[known]] > 0] = -np.inf
                scores[known] = personal
            if (~known).any():  # anonymous: without a history these references fall back to popularity
                scores[~known] = self.x.sum(axis=0)
            top = np.argsort(-scores, axis=1, kind="stable")[:, :limit]
            out.extend(t.tolist() for t in top)
        return out


class Popularity(_ScoreRanker):
    """Most-rated movies first (in the training split)."""

    name = "popularity"

    def scores(self, user_rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.x.sum(axis=0), (len(user_rows), self.x.shape[1]))


class ItemKNN(_ScoreRanker):
    """Item-item cosine similarity on who rated what; a user's score is the sum over their movies."""

    name = "ItemKNN"

    def __init__(self, index: IndexArtifact):
        super().__init__(index)
        norms = np.sqrt(self.x.sum(axis=0)) + 1e-9
        self.sim = (self.x.T @ self.x) / norms[:, None] / norms[None, :]
        np.fill_diagonal(self.sim, 0.0)

    def scores(self, user_rows: np.ndarray) -> np.ndarray:
        return self.x[user_rows] @ self.sim


class EaseReference(_ScoreRanker):
    """EASE (Steck 2019), written independently of the indexer's: B = I - P diag(1/diag P), P = (XᵀX + λI)⁻¹."""

    name = "EASE"

    def __init__(self, index: IndexArtifact, lam: float):
        super().__init__(index)
        # Movies nobody rated have zero rows and columns in XᵀX, hence zero weights: solve without them.
        self.active = np.flatnonzero(self.x.sum(axis=0) > 0)
        x = self.x[:, self.active]
        g = (x.T @ x).astype(np.float64)
        g[np.diag_indices_from(g)] += lam
        p = np.linalg.inv(g)
        self.b = (np.eye(len(g)) - p / np.diag(p)).astype(np.float32)
        np.fill_diagonal(self.b, 0.0)

    def scores(self, user_rows: np.ndarray) -> np.ndarray:
        out = np.zeros((len(user_rows), self.x.shape[1]), dtype=np.float32)
        out[:, self.active] = self.x[np.ix_(user_rows, self.active)] @ self.b
        return out


class OriginalDesign:
    """The design this project started from, exactly: unweighted centroid user vectors; the 500 movies
    with the highest dot product with the prompt; the 50 users with the highest dot product with
    the prompt; candidates ranked by their mean dot product with those users. Without a prompt the
    user's centroid stands in for it."""

    name = "original design"

    def __init__(self, index: IndexArtifact, encoder: MemoEncoder):
        self.index = index
        self.encoder = encoder
        x = user_item_matrix(index)
        self.x = x
        self.centroids = (x @ index.movie_vectors) / np.maximum(x.sum(axis=1, keepdims=True), 1)

    def rank(self, requests: Sequence[EvalRequest], limit: int) -> list[list[int]]:
        vectors = self.encoder.encode([r.prompt for r in requests if r.prompt])
        it = iter(vectors)
        out = []
        for r in requests:
            row = self.index.user_row.get(r.user_id) if r.user_id is not None else None
            query = next(it) if r.prompt else self.centroids[row]
            movies = np.argsort(-(self.index.movie_vectors @ query), kind="stable")[:500]
            users = np.argsort(-(self.centroids @ query), kind="stable")[:50]
            score = (self.index.movie_vectors[movies] @ self.centroids[users].T).mean(axis=1)
            ranked = movies[np.argsort(-score, kind="stable")]
            if row is not None:
                ranked = ranked[self.x[row, ranked] == 0]
            out.append(ranked[:limit].tolist())
        return out
