"""What flows between the ranking stages: the requests of one batch, and what each stage adds.

understand (movierec.understanding) -> RankRequest -> retrieve (movierec.retrieval) -> candidates
-> signals (movierec.signals) -> combine (movierec.combine) -> explain (movierec.explain) -> Ranked.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from movierec.topk import positive_top_k


@dataclass(frozen=True)
class UserProfile:
    """A user's history and taste, as of now (the index's ratings plus feedback since).

    row: the user's row in the user index, None for a user newer than the index;
    rated_rows: int64 (k,) movie rows; rated_values: float32 (k,); taste: float32 (d,) unit vector;
    collaborative: float32 (a,) the user's collaborative scores over index.collaborative_items, computed once;
    taste_scores: float32 (n_movies,) every movie's inner product with `taste` (None for an
    approximate index, whose catalogue is too large to score whole); seen_rows, unwanted_rows: int64
    movie rows the user marks seen and not interested (left out of their lists).
    """

    row: int | None
    rated_rows: np.ndarray
    rated_values: np.ndarray
    taste: np.ndarray
    collaborative: np.ndarray
    taste_scores: np.ndarray | None = None
    # Movies the user marks seen and not interested: int64 (s,), (u,) movie rows.
    seen_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), compare=False)
    unwanted_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), compare=False)
    # k -> the rows of the k best EASE scores (unordered), filled on first use.
    favourites: dict[int, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    def top_collaborative(self, k: int, items: np.ndarray) -> np.ndarray:
        """Rows int64 (<= k,) of the k best positive collaborative scores (`items`: the rows they are of)."""
        rows = self.favourites.get(k)
        if rows is None:
            # Only movies the model scores above zero: with an empty model, or a history the model
            # has never seen, there are no favourites (rather than k arbitrary movies tied at 0).
            rows = self.favourites[k] = positive_top_k(self.collaborative, k, items)
        return rows


@dataclass(frozen=True)
class RankRequest:
    """One request in row terms, as understood (movierec.understanding):

    prompt: the mood text (what the tag match reads); prompt_vector float32 (d,): the mood's embedding,
    moved towards the examples' (the examples' alone when there is no mood; None with neither);
    user: a profile or None; allowed: bool (n_movies,) the movies the hard constraints allow (None:
    all); examples: int64 (e,) rows of movies named as examples; conversation: the request is a
    conversation (an anonymous one is weighted by the conversation weights).
    """

    prompt: str
    prompt_vector: np.ndarray | None
    user: UserProfile | None
    limit: int
    include_rated: bool = False
    allowed: np.ndarray | None = None
    examples: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    conversation: bool = False


@dataclass(frozen=True)
class GroupRankRequest:
    """A group's request: one RankRequest per member (each with the group's mood, and the movies the
    group may be shown as `allowed`), ranked over one shared candidate pool, then aggregated into
    one list of `limit` by `strategy` with its parameters (movierec.group)."""

    members: tuple[RankRequest, ...]
    limit: int
    strategy: str
    misery_threshold: float
    fair_depth: int
    pleasure_weight: float


@dataclass(frozen=True)
class Candidates:
    """The retrieve stage's output for a batch of B requests.

    candidates int64 (B, C): movie rows, padded; valid bool (B, C): which are candidates; own bool
    (B, C): the candidates a request retrieved itself (a group member's own share of the pool; the same
    as valid otherwise), over which combine sets each signal's scale; prompt_all float32 (B, n_movies)
    or None: every movie's product with the query (an exact index only; the prompt signal reads it).
    """

    candidates: np.ndarray
    valid: np.ndarray
    own: np.ndarray
    prompt_all: np.ndarray | None = None


@dataclass(frozen=True)
class Batch:
    """B requests on their way through the stages; no stage changes it (retrieval's output joins it by
    `with_candidates`, a new batch).

    queries float32 (B, d): the prompt vector, else the user's taste, else zeros (has_query False:
    a request with constraints only); collaborative[i] float32 (a,) or None: the EASE scores the
    request uses (its examples', else its user's); match float32 (B, n_movies) or None: tag match
    per movie; shared: groups of request positions (int64 arrays) that retrieval gives one candidate
    pool, the union of theirs (a group's members). candidates, valid, own, prompt_all: the retrieve
    stage's (Candidates), empty before it.
    """

    requests: list[RankRequest]
    queries: np.ndarray
    has_prompt: np.ndarray
    has_user: np.ndarray
    has_examples: np.ndarray
    has_query: np.ndarray
    active: frozenset[str]
    collaborative: list[np.ndarray | None]
    match: np.ndarray | None = None
    prompt_all: np.ndarray | None = None
    shared: list[np.ndarray] = field(default_factory=list)
    candidates: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), np.int64))
    valid: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), bool))
    own: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), bool))

    def with_candidates(self, retrieved: Candidates) -> Batch:
        """This batch with the retrieve stage's output."""
        return replace(
            self,
            candidates=retrieved.candidates,
            valid=retrieved.valid,
            own=retrieved.own,
            prompt_all=retrieved.prompt_all,
        )


@dataclass(frozen=True)
class Ranked:
    """A ranked list: movie rows int64 (limit,), scores float32 (limit,), per-signal parts (limit,)
    that sum to the scores (movierec.combine says what a part means). For a group (movierec.group):
    scores are the strategy's, the parts are the members' mean parts, and member_fit float32
    (limit, M) is each member's fit, in the order of GroupRankRequest.members."""

    rows: np.ndarray
    scores: np.ndarray
    signals: dict[str, np.ndarray]
    member_fit: np.ndarray | None = None

    def followed_by(self, more: Ranked) -> Ranked:
        """This list, then `more` after it (a signal one list lacks counts zero there)."""

        def joined(a: np.ndarray | None, b: np.ndarray | None, n_a: int, n_b: int) -> np.ndarray:
            like = a if a is not None else b
            assert like is not None
            a = a if a is not None else np.zeros((n_a, *like.shape[1:]), like.dtype)
            b = b if b is not None else np.zeros((n_b, *like.shape[1:]), like.dtype)
            return np.concatenate([a, b])

        n, m = len(self.rows), len(more.rows)
        fit = (
            joined(self.member_fit, more.member_fit, n, m)
            if (self.member_fit is not None and more.member_fit is not None)
            else None
        )
        return Ranked(
            rows=np.concatenate([self.rows, more.rows]),
            scores=np.concatenate([self.scores, more.scores]),
            signals={
                k: joined(self.signals.get(k), more.signals.get(k), n, m)
                for k in (*self.signals, *(k for k in more.signals if k not in self.signals))
            },
            member_fit=fit,
        )


@dataclass(frozen=True)
class Scored:
    """The combine stage's first phase over a batch (B requests, C candidates each), what the learned
    second phase, the aggregate stage and the explanations read:

    values      name -> float32 (B, C)   each active signal's raw values
    calibrated  name -> float32 (B, C)   the same on the common scale (movierec.combine), before weighting
    applies     name -> bool (B,)        the requests a signal takes part in (it applies and is weighted)
    parts       name -> float32 (B, C)   each signal's part of the weighted sum
    total       float32 (B, C)           the weighted sum, -inf where not a candidate
    """

    values: dict[str, np.ndarray]
    calibrated: dict[str, np.ndarray]
    applies: dict[str, np.ndarray]
    parts: dict[str, np.ndarray]
    total: np.ndarray
