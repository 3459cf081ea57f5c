"""The ranking: prompt k-NN + similar users + the user's own taste + review quality.

For a batch of B requests (all arrays float32 unless said otherwise):

1. query vectors Q (B, d): the prompt embedding, or the user's taste vector when the prompt is empty;
2. one FAISS search of the movie index: candidate_movies (B, N) rows and their prompt similarity;
3. one FAISS search of the user index: similar_users (B, K) rows (the requesting user excluded);
4. one batched matrix product: candidates (B, N, d) x similar users' taste (B, d, K) -> (B, N, K),
   averaged over K -> "community" (B, N); the user's own taste (B, d) -> "taste" (B, N);
5. "quality": the movie's vote average shrunk towards the catalogue mean by its vote count;
6. each signal is standardised over the request's candidates (z-score), weighted, and summed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from movierec.artifact import IndexArtifact

SIGNALS = ("prompt", "community", "taste", "quality")


@dataclass(frozen=True)
class RankingConfig:
    candidate_movies: int = 500
    similar_users: int = 50
    weight_prompt: float = 1.0
    weight_community: float = 0.5
    weight_taste: float = 0.5
    weight_quality: float = 0.25

    def weight(self, signal: str) -> float:
        return float(getattr(self, f"weight_{signal}"))


@dataclass(frozen=True)
class RankRequest:
    """One request in row terms: `prompt_vector` float32 (d,) or None; `user_row` or None."""

    prompt_vector: np.ndarray | None
    user_row: int | None
    limit: int
    include_rated: bool = False


@dataclass(frozen=True)
class Ranked:
    """A ranked list: movie rows int64 (limit,), scores float32 (limit,), per-signal parts (limit,)."""

    rows: np.ndarray
    scores: np.ndarray
    signals: dict[str, np.ndarray]


def quality_prior(vote_average: np.ndarray, vote_count: np.ndarray) -> np.ndarray:
    """Bayesian average of TMDB votes: (v * R + m * C) / (v + m), m = median vote count, C = mean vote.

    vote_average float (n,), vote_count int (n,) -> float32 (n,). Few votes pull a movie towards C.
    """
    votes = vote_count.astype(np.float64)
    voted = votes > 0
    m = float(np.median(votes[voted])) if voted.any() else 1.0
    c = float(np.average(vote_average[voted], weights=votes[voted])) if voted.any() else 0.0
    return ((votes * vote_average + m * c) / (votes + m)).astype(np.float32)


def standardise(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """z-score each row of x (B, N) over its valid entries (bool (B, N)); constant rows become 0."""
    count = np.maximum(valid.sum(axis=1, keepdims=True), 1)
    mean = np.where(valid, x, 0).sum(axis=1, keepdims=True) / count
    var = np.where(valid, (x - mean) ** 2, 0).sum(axis=1, keepdims=True) / count
    std = np.sqrt(var)
    return np.where(std > 1e-9, (x - mean) / np.where(std > 1e-9, std, 1), 0).astype(np.float32)


class Ranker:
    """Ranks batches of requests against one loaded index artifact."""

    def __init__(self, index: IndexArtifact, config: RankingConfig):
        self.index = index
        self.config = config
        self.quality = quality_prior(np.array([m.vote_average for m in index.movies]),
                                     np.array([m.vote_count for m in index.movies]))

    def rank(self, requests: list[RankRequest]) -> list[Ranked]:
        """Rank a batch: one movie search, one user search, one batched product for all requests."""
        index, cfg = self.index, self.config
        if not requests:
            return []
        b = len(requests)
        queries = np.stack([r.prompt_vector if r.prompt_vector is not None else index.user_vectors[r.user_row]
                            for r in requests]).astype(np.float32)                      # (B, d)
        has_prompt = np.array([r.prompt_vector is not None for r in requests])
        has_user = np.array([r.user_row is not None for r in requests])

        n = min(cfg.candidate_movies, index.movie_index.ntotal)
        prompt_sim, candidate_movies = index.movie_index.search(queries, n)              # (B, N)
        valid = candidate_movies >= 0
        candidate_movies = np.where(valid, candidate_movies, 0)
        for i, r in enumerate(requests):
            if r.user_row is not None and not r.include_rated:
                valid[i] &= ~np.isin(candidate_movies[i], index.rated(r.user_row))

        signals: dict[str, np.ndarray] = {}
        candidates = index.movie_vectors[candidate_movies]                               # (B, N, d)
        if has_prompt.any():
            signals["prompt"] = prompt_sim
        k = min(cfg.similar_users, index.user_index.ntotal - 1 if has_user.any() else index.user_index.ntotal)
        if k > 0:
            _, similar = index.user_index.search(queries, k + 1)                         # (B, K+1)
            similar_users = np.stack([_drop_self(similar[i], r.user_row, k) for i, r in enumerate(requests)])
            neighbours = index.user_vectors[similar_users]                               # (B, K, d)
            signals["community"] = np.matmul(candidates, neighbours.transpose(0, 2, 1)).mean(axis=2)
        if has_user.any():
            taste = np.stack([index.user_vectors[r.user_row] if r.user_row is not None
                              else np.zeros(index.dimensions, np.float32) for r in requests])  # (B, d)
            signals["taste"] = np.einsum("bnd,bd->bn", candidates, taste)
        signals["quality"] = self.quality[candidate_movies]

        parts = {name: cfg.weight(name) * standardise(values, valid) for name, values in signals.items()}
        present = {"prompt": has_prompt, "taste": has_user}
        total = np.zeros((b, n), dtype=np.float32)
        for name, part in parts.items():
            mask = present.get(name, np.ones(b, bool))[:, None]
            parts[name] = np.where(mask, part, 0)
            total += parts[name]
        total = np.where(valid, total, -np.inf)

        out = []
        for i, r in enumerate(requests):
            top = np.argsort(-total[i], kind="stable")[: min(r.limit, int(valid[i].sum()))]
            out.append(Ranked(
                rows=candidate_movies[i, top].astype(np.int64),
                scores=total[i, top],
                signals={name: part[i, top] for name, part in parts.items()
                         if present.get(name, np.ones(b, bool))[i]},
            ))
        return out


def _drop_self(similar: np.ndarray, user_row: int | None, k: int) -> np.ndarray:
    """The first k users of a search result, without the requesting user: int64 (k,)."""
    similar = similar[similar >= 0]
    if user_row is not None:
        similar = similar[similar != user_row]
    return similar[:k]
