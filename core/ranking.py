"""The ranking: mood from the prompt, taste from the history, opinion from similar users and reviews.

For a batch of B requests (arrays float32 unless said otherwise):

1. query vectors Q (B, d): the prompt embedding, or the user's taste vector when the prompt is empty;
2. candidates (B, C) int64, the union of three searches, so that a narrow prompt search cannot cut
   off a user's favourites: the `candidate_movies` nearest Q (one FAISS search for the batch), the
   `match_candidates` movies whose tags the prompt names, the `collaborative_candidates` best
   EASE scores of the user;
3. similar users (B, K): one FAISS search of the user taste vectors with Q (the requester excluded);
4. signals over the candidates (B, C), each with one batched product:
   - prompt:        candidates (B, C, d) . prompt (B, d)            cosine to the prompt
   - match:         IDF-weighted tags (genres, keywords) the prompt names (movierec.lexical)
   - collaborative: x_user (B, a) @ EASE (a, a)                     what people with this history rate
   - community:     similarity (B, K) . centred ratings (B, K, C)   how similar users rated them
   - taste:         candidates (B, C, d) . taste vector (B, d)      the user's own taste
   - quality:       TMDB vote average shrunk towards the mean by vote count
5. each signal is standardised over the request's candidates (z-score), weighted, and summed.
   A signal that does not apply (no prompt, no user) or has weight 0 is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from movierec.artifact import IndexArtifact
from movierec.lexical import TagMatcher
from movierec.settings import Settings

SIGNALS = ("prompt", "match", "collaborative", "community", "taste", "quality")
NEEDS_PROMPT = frozenset({"prompt", "match"})
NEEDS_USER = frozenset({"collaborative", "taste"})


@dataclass(frozen=True)
class RankingConfig:
    """The ranking's knobs; the defaults are the settings' (chosen on validation by `make eval`)."""

    candidate_movies: int = Settings.candidate_movies
    match_candidates: int = Settings.match_candidates
    collaborative_candidates: int = Settings.collaborative_candidates
    similar_users: int = Settings.similar_users
    weight_prompt: float = Settings.weight_prompt
    weight_match: float = Settings.weight_match
    weight_collaborative: float = Settings.weight_collaborative
    weight_community: float = Settings.weight_community
    weight_taste: float = Settings.weight_taste
    weight_quality: float = Settings.weight_quality

    def weight(self, signal: str) -> float:
        return float(getattr(self, f"weight_{signal}"))

    def with_weights(self, **weights: float) -> RankingConfig:
        """This config with only the named signals on (others weight 0): for ablations."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update({f"weight_{s}": float(weights.get(s, 0.0)) for s in SIGNALS})
        return RankingConfig(**values)


@dataclass(frozen=True)
class UserProfile:
    """A user's history and taste, as of now (the index's ratings plus feedback since).

    row: the user's row in the user index, None for a user newer than the index;
    rated_rows: int64 (k,) movie rows; rated_values: float32 (k,); taste: float32 (d,) unit vector.
    """

    row: int | None
    rated_rows: np.ndarray
    rated_values: np.ndarray
    taste: np.ndarray


@dataclass(frozen=True)
class RankRequest:
    """One request in row terms: the prompt text and its vector float32 (d,) (None when empty), a user."""

    prompt: str
    prompt_vector: np.ndarray | None
    user: UserProfile | None
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


def centred_ratings(index: IndexArtifact) -> np.ndarray:
    """Each user's ratings minus their mean, zero where unrated: float32 (n_users, n_movies)."""
    n_users, n_movies = len(index.user_ids), len(index.movies)
    counts = np.diff(index.rated_ptr)
    owner = np.repeat(np.arange(n_users), counts)
    means = np.bincount(owner, weights=index.rated_values, minlength=n_users) / np.maximum(counts, 1)
    out = np.zeros((n_users, n_movies), dtype=np.float32)
    out[owner, index.rated_rows] = index.rated_values - means[owner]
    return out


class Ranker:
    """Ranks batches of requests against one loaded index artifact."""

    def __init__(self, index: IndexArtifact, config: RankingConfig):
        self.index = index
        self.config = config
        self.quality = quality_prior(np.array([m.vote_average for m in index.movies]),
                                     np.array([m.vote_count for m in index.movies]))
        self.matcher = TagMatcher([(*m.genres, *m.keywords) for m in index.movies])
        self.ratings = centred_ratings(index)
        self.ease_position = np.full(len(index.movies), -1, dtype=np.int64)
        self.ease_position[index.ease_items] = np.arange(len(index.ease_items))

    def with_config(self, config: RankingConfig) -> Ranker:
        """The same index and precomputed state under other weights (cheap)."""
        other = object.__new__(Ranker)
        other.__dict__.update(self.__dict__)
        other.config = config
        return other

    def profile(self, row: int) -> UserProfile:
        """The profile of the user at `row` of the index, as the index has it."""
        rows, values, _ = self.index.history(row)
        return UserProfile(row, rows.astype(np.int64), values, self.index.user_vectors[row])

    # -- signals over the whole catalogue for the batch --------------------------------------
    def collaborative_scores(self, users: list[UserProfile | None]) -> np.ndarray:
        """EASE scores float32 (B, n_movies); zero rows for anonymous requests."""
        index = self.index
        out = np.zeros((len(users), len(index.movies)), dtype=np.float32)
        known = [i for i, u in enumerate(users) if u is not None]
        if not known or len(index.ease_items) == 0:
            return out
        history = np.zeros((len(known), len(index.ease_items)), dtype=np.float32)          # (B_u, a)
        for k, i in enumerate(known):
            positions = self.ease_position[users[i].rated_rows]
            history[k, positions[positions >= 0]] = 1.0
        out[np.ix_(known, index.ease_items)] = history @ index.ease_weights               # one product
        return out

    def rank(self, requests: list[RankRequest]) -> list[Ranked]:
        """Rank a batch: one FAISS search per index, one product per signal, for all requests."""
        index, cfg = self.index, self.config
        if not requests:
            return []
        b, n_movies = len(requests), len(index.movies)
        has_prompt = np.array([r.prompt_vector is not None for r in requests])
        has_user = np.array([r.user is not None for r in requests])
        active = {s for s in SIGNALS if cfg.weight(s) != 0}
        queries = np.stack([r.prompt_vector if r.prompt_vector is not None else r.user.taste
                            for r in requests]).astype(np.float32)                       # (B, d)

        # Candidates: prompt k-NN ∪ tag matches ∪ collaborative favourites.
        _, nearest = index.movie_index.search(queries, min(cfg.candidate_movies, n_movies))
        match = (self.matcher.scores([r.prompt if r.prompt_vector is not None else "" for r in requests])
                 if "match" in active else np.zeros((b, n_movies), np.float32))
        collaborative = (self.collaborative_scores([r.user for r in requests])
                         if "collaborative" in active else np.zeros((b, n_movies), np.float32))
        pools = []
        for i, r in enumerate(requests):
            pool = [nearest[i][nearest[i] >= 0]]
            if has_prompt[i] and "match" in active:
                pool.append(_top_positive(match[i], cfg.match_candidates))
            if has_user[i] and "collaborative" in active:
                pool.append(_top(collaborative[i], cfg.collaborative_candidates))
            pool = np.unique(np.concatenate(pool))
            if r.user is not None and not r.include_rated:
                pool = pool[~np.isin(pool, r.user.rated_rows)]
            pools.append(pool)
        width = max(1, max(len(p) for p in pools))
        candidates = np.zeros((b, width), dtype=np.int64)                                 # (B, C)
        valid = np.zeros((b, width), dtype=bool)
        for i, pool in enumerate(pools):
            candidates[i, :len(pool)] = pool
            valid[i, :len(pool)] = True

        signals: dict[str, np.ndarray] = {}
        vectors = index.movie_vectors[candidates]                                         # (B, C, d)
        if "prompt" in active and has_prompt.any():
            signals["prompt"] = np.einsum("bcd,bd->bc", vectors, queries)
        if "match" in active and has_prompt.any():
            signals["match"] = np.take_along_axis(match, candidates, axis=1)
        if "collaborative" in active and has_user.any():
            signals["collaborative"] = np.take_along_axis(collaborative, candidates, axis=1)
        if "community" in active and index.user_index.ntotal > int(has_user.any()):
            signals["community"] = self._community(requests, queries, candidates)
        if "taste" in active and has_user.any():
            taste = np.stack([r.user.taste if r.user is not None
                              else np.zeros(index.dimensions, np.float32) for r in requests])    # (B, d)
            signals["taste"] = np.einsum("bcd,bd->bc", vectors, taste)
        if "quality" in active:
            signals["quality"] = self.quality[candidates]

        applies = {name: (has_prompt if name in NEEDS_PROMPT else has_user if name in NEEDS_USER
                          else np.ones(b, bool)) for name in signals}
        parts = {name: np.where(applies[name][:, None], cfg.weight(name) * standardise(values, valid), 0)
                 for name, values in signals.items()}
        total = np.where(valid, sum(parts.values(), np.zeros((b, width), np.float32)), -np.inf)

        out = []
        for i, r in enumerate(requests):
            top = np.argsort(-total[i], kind="stable")[: min(r.limit, int(valid[i].sum()))]
            out.append(Ranked(rows=candidates[i, top], scores=total[i, top].astype(np.float32),
                              signals={name: part[i, top].astype(np.float32) for name, part in parts.items()
                                       if applies[name][i]}))
        return out

    def _community(self, requests: list[RankRequest], queries: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Similarity-weighted centred ratings of the candidates by the K users nearest each query: (B, C)."""
        index = self.index
        k = min(self.config.similar_users, index.user_index.ntotal - 1)
        sims, similar = index.user_index.search(queries, k + 1)                           # (B, K+1)
        weights = np.zeros((len(requests), k), dtype=np.float32)
        neighbours = np.zeros((len(requests), k), dtype=np.int64)
        for i, r in enumerate(requests):
            own_row = r.user.row if r.user is not None and r.user.row is not None else -1
            keep = (similar[i] >= 0) & (similar[i] != own_row)
            rows, s = similar[i][keep][:k], sims[i][keep][:k]
            neighbours[i, :len(rows)] = rows
            weights[i, :len(rows)] = np.maximum(s, 0)
        rated = self.ratings[neighbours[:, :, None], candidates[:, None, :]]               # (B, K, C)
        norm = np.maximum(np.abs(weights).sum(axis=1, keepdims=True), 1e-9)
        return np.einsum("bk,bkc->bc", weights, rated) / norm


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the k highest scores; ties go to the earlier row, so the cut is deterministic."""
    return np.argsort(-scores, kind="stable")[:k]


def _top_positive(scores: np.ndarray, k: int) -> np.ndarray:
    positive = np.flatnonzero(scores > 0)
    return positive[np.argsort(-scores[positive], kind="stable")[:k]]
