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
   - collaborative: x_user (a,) @ EASE (a, a), once per user profile  what people with this history rate
   - community:     similarity (B, n_users) sparse @ centred ratings (n_users, n_movies) sparse
                                                                    how similar users rated them
   - taste:         movies (n, d) . taste vector (d,), once per user profile   the user's own taste
   - quality:       TMDB vote average shrunk towards the mean by vote count
5. each signal is standardised over the request's candidates (z-score), weighted, and summed.
   A signal that does not apply (no prompt, no user) or has weight 0 is left out. A signal that
   applies but whose model knows nothing here (no EASE items, no users in the user index, no tags,
   no votes, a history of movies nobody else rated) is constant over the candidates: it is reported
   with parts of 0 and leaves the order to the other signals.

Cost: the serving path runs this once per micro-batch, single-threaded beside the encoder, so
every step is a vectorised product or a top-k by partition (never a full sort of the catalogue);
the prompt and taste products read the whole movie matrix once when that is cheaper than
gathering every candidate's vector.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import faiss
import numpy as np
from scipy import sparse

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
    rated_rows: int64 (k,) movie rows; rated_values: float32 (k,); taste: float32 (d,) unit vector;
    collaborative: float32 (a,) the user's EASE scores over index.ease_items, computed once;
    taste_scores: float32 (n_movies,) every movie's inner product with `taste` (None for an
    approximate index, whose catalogue is too large to score whole).
    """

    row: int | None
    rated_rows: np.ndarray
    rated_values: np.ndarray
    taste: np.ndarray
    collaborative: np.ndarray
    taste_scores: np.ndarray | None = None
    # k -> the rows of the k best EASE scores (unordered), filled on first use.
    favourites: dict[int, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    def top_collaborative(self, k: int, ease_items: np.ndarray, n_movies: int) -> np.ndarray:
        """Rows int64 (<= k,) of the k best positive EASE scores (movies outside the model score 0)."""
        rows = self.favourites.get(k)
        if rows is None:
            # Only movies the model scores above zero: with an empty model, or a history the model
            # has never seen, there are no favourites (rather than k arbitrary movies tied at 0).
            rows = self.favourites[k] = _favourites(self.collaborative, k, ease_items)
        return rows


@dataclass(frozen=True)
class RankRequest:
    """One request in row terms, as understood (movierec.understanding):

    prompt: the mood text (what the tag match reads); prompt_vector float32 (d,): the mood's embedding,
    or the examples' when only examples were given (None when neither); user: a profile or None;
    allowed: bool (n_movies,) the movies the hard constraints allow (None: all); examples: int64 (e,)
    rows of movies named as examples, whose EASE rows count as history.
    """

    prompt: str
    prompt_vector: np.ndarray | None
    user: UserProfile | None
    limit: int
    include_rated: bool = False
    allowed: np.ndarray | None = None
    examples: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


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
    deviation = np.where(valid, x - mean, 0)
    std = np.sqrt(np.square(deviation).sum(axis=1, keepdims=True) / count)
    return (deviation / np.where(std > 1e-9, std, np.inf)).astype(np.float32)


def centred_ratings(index: IndexArtifact) -> sparse.csr_matrix:
    """Each user's ratings minus their mean: float32 CSR (n_users, n_movies), absent where unrated."""
    n_users, n_movies = len(index.user_ids), len(index.movies)
    counts = np.diff(index.rated_ptr)
    owner = np.repeat(np.arange(n_users), counts)
    means = np.bincount(owner, weights=index.rated_values, minlength=n_users) / np.maximum(counts, 1)
    values = (index.rated_values - means[owner]).astype(np.float32)
    return sparse.csr_matrix((values, index.rated_rows.astype(np.int64), index.rated_ptr.astype(np.int64)),
                             shape=(n_users, n_movies))


class Ranker:
    """Ranks batches of requests against one loaded index artifact."""

    def __init__(self, index: IndexArtifact, config: RankingConfig):
        self.index = index
        self.config = config
        # An exact (flat) movie index is searched with one matrix product per batch; an approximate
        # one (large catalogues) through FAISS.
        self.exact = isinstance(index.movie_index, faiss.IndexFlat)
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
        return self.make_profile(row, rows.astype(np.int64), values, self.index.user_vectors[row])

    def make_profile(self, row: int | None, rated_rows: np.ndarray, rated_values: np.ndarray,
                     taste: np.ndarray) -> UserProfile:
        """A profile for this history: rated_rows int (k,), rated_values float32 (k,), taste float32 (d,)."""
        taste_scores = self.index.movie_vectors @ taste if self.exact else None
        return UserProfile(row, rated_rows, rated_values, taste, self.collaborative_scores(rated_rows), taste_scores)

    def collaborative_scores(self, rated_rows: np.ndarray) -> np.ndarray:
        """EASE scores of a history over index.ease_items, float32 (a,): x_user @ B is the sum of the
        rows of B the user rated."""
        index = self.index
        positions = self.ease_position[rated_rows]
        positions = positions[positions >= 0]
        if not len(positions):
            return np.zeros(len(index.ease_items), dtype=np.float32)
        return index.ease_weights[positions].sum(axis=0, dtype=np.float32)

    def profile_bytes(self) -> int:
        """About what one cached profile holds (EASE scores, taste scores): for sizing the cache."""
        return 4 * (len(self.index.ease_items) + (len(self.index.movies) if self.exact else 0)) + 4096

    def rank(self, requests: list[RankRequest]) -> list[Ranked]:
        """Rank a batch: one FAISS search per index, one product per signal, for all requests."""
        index, cfg = self.index, self.config
        if not requests:
            return []
        b, n_movies = len(requests), len(index.movies)
        has_prompt = np.array([r.prompt_vector is not None for r in requests])
        has_user = np.array([r.user is not None for r in requests])
        has_examples = np.array([len(r.examples) > 0 for r in requests])
        # A request may have no query vector at all ("Tom Hanks movies": constraints only); its
        # candidates are then the allowed movies with the best review prior.
        has_query = has_prompt | has_user
        active = {s for s in SIGNALS if cfg.weight(s) != 0}
        queries = np.stack([r.prompt_vector if r.prompt_vector is not None else r.user.taste if r.user is not None
                            else np.zeros(index.dimensions, np.float32) for r in requests]).astype(np.float32)  # (B, d)
        # EASE scores over index.ease_items (a,) from the user's history plus the named examples.
        collaborative = [self._collaborative(r) if "collaborative" in active else None for r in requests]

        # Candidates: prompt k-NN ∪ tag matches ∪ collaborative favourites.
        k = min(cfg.candidate_movies, n_movies)
        want_taste = "taste" in active and has_user.any()
        if self.exact:
            # What IndexFlatIP.search computes, with a partition in place of its heap.
            prompt_all = _products(index.movie_vectors, queries)                              # (B, n_movies)
            nearest = [self._nearest(prompt_all[i] if has_query[i] else self.quality, r.allowed, k)
                       for i, r in enumerate(requests)]
        else:
            prompt_all = None
            nearest = list(index.movie_index.search(queries, k)[1])
            for i, r in enumerate(requests):
                if r.allowed is not None or not has_query[i]:  # filtered: scored over the allowed movies
                    allowed = np.flatnonzero(r.allowed) if r.allowed is not None else np.arange(n_movies)
                    if len(allowed) > 200_000:  # too many to score: search wider, then filter
                        found = index.movie_index.search(queries[i:i + 1], 8 * k)[1][0]
                        nearest[i] = found[(found >= 0) & r.allowed[np.maximum(found, 0)]][:k]  # type: ignore[index]
                        continue
                    scores = (index.movie_vectors[allowed] @ queries[i]) if has_query[i] else self.quality[allowed]
                    nearest[i] = allowed[top_k_set(scores, k)]
        match = (self.matcher.scores([r.prompt if r.prompt_vector is not None else "" for r in requests])
                 if "match" in active else None)
        if match is not None:
            for i in np.flatnonzero(has_examples):  # "like X": X's genres and keywords are wanted too
                alike = self.matcher.similar_to(requests[i].examples)
                match[i] = (match[i] + alike) / 2 if match[i].any() else alike
        pools = []
        chosen = np.zeros(n_movies, dtype=bool)
        for i, r in enumerate(requests):
            chosen[nearest[i][nearest[i] >= 0]] = True
            if match is not None and has_prompt[i]:
                positive = np.flatnonzero(match[i] > 0)
                chosen[positive[top_k_set(match[i][positive], cfg.match_candidates)]] = True
            if collaborative[i] is not None:
                if has_examples[i] or r.user is None:
                    chosen[_favourites(collaborative[i], cfg.collaborative_candidates, index.ease_items)] = True
                else:
                    chosen[r.user.top_collaborative(cfg.collaborative_candidates, index.ease_items, n_movies)] = True
            if r.user is not None and not r.include_rated:
                chosen[r.user.rated_rows] = False
            if r.allowed is not None:
                chosen &= r.allowed
            pools.append(np.flatnonzero(chosen))
            chosen[pools[-1]] = False
        width = max(1, max(len(p) for p in pools))
        candidates = np.zeros((b, width), dtype=np.int64)                                 # (B, C)
        valid = np.zeros((b, width), dtype=bool)
        for i, pool in enumerate(pools):
            candidates[i, :len(pool)] = pool
            valid[i, :len(pool)] = True

        signals: dict[str, np.ndarray] = {}
        if "prompt" in active and has_prompt.any():
            signals["prompt"] = (np.take_along_axis(prompt_all, candidates, axis=1) if prompt_all is not None
                                 else self._gathered_products(candidates, queries))
        if want_taste:
            if self.exact:  # each profile scored the whole catalogue once
                signals["taste"] = np.stack([r.user.taste_scores[candidates[i]] if r.user is not None  # type: ignore[index]
                                             else np.zeros(width, np.float32) for i, r in enumerate(requests)])
            else:
                tastes = np.stack([r.user.taste if r.user is not None else np.zeros(index.dimensions, np.float32)
                                   for r in requests])                                     # (B, d)
                signals["taste"] = self._gathered_products(candidates, tastes)
        if match is not None and has_prompt.any():
            signals["match"] = np.take_along_axis(match, candidates, axis=1)
        if "collaborative" in active and (has_user | has_examples).any():
            # Position -1 (a movie outside the model, or every movie when the model is empty) reads
            # the 0 appended to each request's scores.
            position = self.ease_position[candidates]                                          # (B, C)
            signals["collaborative"] = np.stack([
                np.append(c, np.float32(0))[position[i]] if c is not None else np.zeros(width, np.float32)
                for i, c in enumerate(collaborative)])
        if "community" in active:
            signals["community"] = self._community(requests, queries, candidates, has_query)
        if "quality" in active:
            signals["quality"] = self.quality[candidates]

        applies = {name: (has_prompt if name in NEEDS_PROMPT else has_user | has_examples if name == "collaborative"
                          else has_user if name in NEEDS_USER else np.ones(b, bool)) for name in signals}
        # All signals standardised in one pass: (S, B, C).
        names = list(signals)
        z = standardise(np.stack([signals[n] for n in names]).reshape(len(names) * b, width),
                        np.tile(valid, (len(names), 1))).reshape(len(names), b, width)
        scale = np.stack([applies[n] * cfg.weight(n) for n in names]).astype(np.float32)       # (S, B)
        weighted = z * scale[:, :, None]
        parts = {name: weighted[j] for j, name in enumerate(names)}
        total = np.where(valid, weighted.sum(axis=0), -np.inf)

        out = []
        for i, r in enumerate(requests):
            top = top_k(total[i], min(r.limit, int(valid[i].sum())))
            out.append(Ranked(rows=candidates[i, top], scores=total[i, top].astype(np.float32),
                              signals={name: part[i, top].astype(np.float32) for name, part in parts.items()
                                       if applies[name][i]}))
        return out

    def _collaborative(self, request: RankRequest) -> np.ndarray | None:
        """EASE scores float32 (a,): of the examples when the request names some (what was asked for
        now outweighs the user's long history, whose taste the other signals keep), else of the
        user's history; None with neither."""
        if len(request.examples):
            return self.collaborative_scores(request.examples)
        return request.user.collaborative if request.user is not None else None

    def _nearest(self, scores: np.ndarray, allowed: np.ndarray | None, k: int) -> np.ndarray:
        """Rows of the k best scores (n_movies,) among the allowed movies (bool (n_movies,) or None)."""
        if allowed is None:
            return top_k_set(scores, k)
        rows = np.flatnonzero(allowed)
        return rows[top_k_set(scores[rows], k)]

    def _gathered_products(self, candidates: np.ndarray, queries: np.ndarray) -> np.ndarray:
        """Inner products of the candidates int64 (B, C) with the queries float32 (B, d): (B, C)."""
        return np.matmul(self.index.movie_vectors[candidates], queries[:, :, None])[:, :, 0]

    def _community(self, requests: list[RankRequest], queries: np.ndarray, candidates: np.ndarray,
                   has_query: np.ndarray) -> np.ndarray:
        """Similarity-weighted centred ratings of the candidates by the K users nearest each query: (B, C).
        Zero for requests without a query vector (has_query bool (B,))."""
        index = self.index
        out = np.zeros(candidates.shape, dtype=np.float32)
        k = min(self.config.similar_users, index.user_index.ntotal)
        if k == 0 or not has_query.any():  # no users in the index, or nothing to compare them with
            return out
        # One more than K, since the requester is usually among their own nearest users.
        sims, similar = index.user_index.search(queries, min(k + 1, index.user_index.ntotal))  # (B, K+1)
        ratings = self.ratings
        n_movies = len(index.movies)
        for i, r in enumerate(requests):
            if not has_query[i]:
                continue
            own_row = r.user.row if r.user is not None and r.user.row is not None else -1
            keep = (similar[i] >= 0) & (similar[i] != own_row)
            neighbours, s = similar[i][keep][:k], np.maximum(sims[i][keep][:k], 0)
            starts, ends = ratings.indptr[neighbours], ratings.indptr[neighbours + 1]
            if not len(neighbours) or not (ends - starts).any():
                continue
            # The neighbours' rows of the CSR ratings, each value times its user's weight, summed per movie.
            lengths = ends - starts
            spans = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
            weight_of = np.repeat(s / max(float(s.sum()), 1e-9), lengths)
            mixed = np.bincount(ratings.indices[spans], weights=ratings.data[spans] * weight_of, minlength=n_movies)
            out[i] = mixed[candidates[i]]
        return out


def _products(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """queries (q, d) . vectors (n, d) -> float32 (q, n), contiguous.

    Shaped for speed on one core: a matrix-vector product per query while there are few
    (memory-bound: each reads the matrix once), else one (n, d) @ (d, q) product, which ran ~3x
    faster here than the same product written (q, d) @ (d, n).
    """
    if len(queries) <= 4:
        return np.stack([vectors @ q for q in queries]) if len(queries) else np.zeros((0, len(vectors)), np.float32)
    return np.ascontiguousarray((vectors @ queries.T).T)


def _favourites(scores: np.ndarray, k: int, ease_items: np.ndarray) -> np.ndarray:
    """Rows int64 of the k best positive EASE scores (a,) over ease_items."""
    positive = np.flatnonzero(scores > 0)
    return ease_items[positive[top_k_set(scores[positive], k)]].astype(np.int64)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k highest scores (float (n,)), best first; ties go to the earlier position.

    The same answer as a stable full sort, at partition cost: everything that ties with the k-th
    best is kept through the partition, then only those are sorted.
    """
    n = len(scores)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k >= n:
        return np.argsort(-scores, kind="stable")
    kth = np.partition(scores, n - k)[n - k]
    contenders = np.flatnonzero(scores >= kth)
    return contenders[np.argsort(-scores[contenders], kind="stable")[:k]]


def top_k_set(scores: np.ndarray, k: int) -> np.ndarray:
    """The positions top_k(scores, k) returns, in no particular order (cheaper: no sort)."""
    n = len(scores)
    if k >= n:
        return np.arange(n)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    kth = np.partition(scores, n - k)[n - k]
    above = np.flatnonzero(scores > kth)
    return np.concatenate([above, np.flatnonzero(scores == kth)[:k - len(above)]])
