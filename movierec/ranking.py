"""The ranking: the stages a batch of requests goes through, and the state they share per index.

    understand  movierec.understanding   prompt -> structured query (in the request's thread; Recommender)
    retrieve    movierec.retrieval       candidates (B, C): query k-NN U tag matches U EASE favourites,
                                         inside the movies the hard constraints allow (movierec.constraints)
    signals     movierec.signals         one (B, C) array per signal (the registry of signal names)
    combine     movierec.combine         each signal on a common scale, weighted, summed; then, for the
                movierec.learned         requests it was trained on, the MLP re-scores the sum's shortlist
    aggregate   movierec.group           a group's members are rows of the batch sharing one pool: their
                                         scores become one list by a strategy (average, least misery, ...)
    explain     movierec.explain         the top `limit` with each signal's part of the score

Cost: the serving path runs this once per micro-batch, single-threaded beside the encoder, so
every step is a vectorised product or a top-k by partition (never a full sort of the catalogue);
the prompt and taste products read the whole movie matrix once when that is cheaper than
gathering every candidate's vector.
"""

from __future__ import annotations

import numpy as np

from movierec import combine, explain, group, learned, retrieval, signals
from movierec.artifact import IndexArtifact
from movierec.batch import Batch, GroupRankRequest, Ranked, RankRequest, Scored, UserProfile
from movierec.combine import standardise
from movierec.features import IndexFeatures, quality_prior
from movierec.settings import RankingConfig
from movierec.topk import top_k, top_k_set

__all__ = [
    "GroupRankRequest",
    "Ranked",
    "RankRequest",
    "Ranker",
    "RankingConfig",
    "UserProfile",
    "quality_prior",
    "standardise",
    "top_k",
    "top_k_set",
]


def flatten(
    requests: list[RankRequest | GroupRankRequest],
) -> tuple[list[RankRequest], list[tuple[GroupRankRequest, np.ndarray]]]:
    """The batch's rows (a group's members are consecutive rows) and each group with its row positions."""
    rows: list[RankRequest] = []
    groups: list[tuple[GroupRankRequest, np.ndarray]] = []
    for r in requests:
        if isinstance(r, GroupRankRequest):
            groups.append((r, np.arange(len(rows), len(rows) + len(r.members))))
            rows.extend(r.members)
        else:
            rows.append(r)
    return rows, groups


class Ranker:
    """Ranks batches of requests against one loaded index artifact."""

    def __init__(self, index: IndexArtifact, config: RankingConfig):
        self.index = index
        self.config = config
        self.features = features = IndexFeatures.of(index)
        # The features the Ranker's own methods (and its callers) read, by their short names.
        self.exact, self.matcher, self.movie_ratings = features.exact, features.matcher, features.movie_ratings
        self.collaborative_items, self.ease_position = features.collaborative_items, features.ease_position

    @property
    def scorer(self) -> learned.LearnedScorer | None:
        """The learned second phase, when the config asks for it and the index has a usable model. It reads
        the signals as the standard calibration puts them (its training did), so other calibrations
        (ablations of the weighted sum) run without it."""
        learned_on = self.config.ranker == "learned" and self.config.calibration == "standard"
        return self.index.learned if learned_on else None

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

    def make_profile(
        self, row: int | None, rated_rows: np.ndarray, rated_values: np.ndarray, taste: np.ndarray
    ) -> UserProfile:
        """A profile for this history: rated_rows int (k,), rated_values float32 (k,), taste float32 (d,)."""
        taste_scores = self.index.movie_vectors @ taste if self.exact else None
        return UserProfile(row, rated_rows, rated_values, taste, self.collaborative_scores(rated_rows), taste_scores)

    def collaborative_scores(self, rated_rows: np.ndarray) -> np.ndarray:
        """Collaborative scores of a history over collaborative_items, float32 (a + t,): EASE's x_user @ B
        (the sum of the rows of B the user rated), then the tail's x_user @ W likewise."""
        index = self.index
        positions = self.ease_position[rated_rows]
        positions = positions[positions >= 0]
        head = (
            index.ease_weights[positions].sum(axis=0, dtype=np.float32)
            if len(positions)
            else np.zeros(len(index.ease_items), dtype=np.float32)
        )
        if not len(index.tail_items):
            return head
        tail = np.asarray(index.tail_weights[rated_rows].sum(axis=0), dtype=np.float32).ravel()  # type: ignore[index]
        return np.concatenate([head, tail])

    def profile_bytes(self) -> int:
        """About what one cached profile holds (EASE scores, taste scores): for sizing the cache."""
        return 4 * (len(self.collaborative_items) + (len(self.index.movies) if self.exact else 0)) + 4096

    def rank(self, requests: list[RankRequest | GroupRankRequest]) -> list[Ranked]:
        """Rank a batch: retrieve -> signals -> combine -> explain, one batched product per step. A group's
        members are rows of the same batch, sharing one candidate pool; their scores are then aggregated
        (movierec.group) into the group's list."""
        if not requests:
            return []
        grouped = [i for i, r in enumerate(requests) if isinstance(r, GroupRankRequest)]
        if grouped and len(grouped) < len(requests):
            # A group's pool is the union of its members': ranked apart, it does not widen every single
            # request's candidate arrays.
            out: list[Ranked | None] = [None] * len(requests)
            alone = [i for i, r in enumerate(requests) if not isinstance(r, GroupRankRequest)]
            for part in (alone, grouped):
                for i, ranked in zip(part, self.rank([requests[i] for i in part])):
                    out[i] = ranked
            return out  # type: ignore[return-value]
        rows, groups = flatten(requests)
        batch, values = self.candidates_and_signals(rows, [positions for _, positions in groups])
        scored = self.weighted_sum(batch, values)
        members = np.concatenate([positions for _, positions in groups]) if groups else np.zeros(0, np.int64)
        singles = np.setdiff1d(np.arange(len(rows)), members)
        scorer = self.scorer
        ready = (
            learned.second_phase(scorer, batch, scored, self.movie_ratings, self.config.learned_candidates, singles)
            if scorer is not None
            else {}
        )
        if groups:
            scores = self._member_scores(batch, scored, members)
            for request, positions in groups:
                ready[int(positions[0])] = self._group_list(request, batch, positions, scores, scored)
        explained = explain.explain(batch, scored, ready, skip=set(members.tolist()))
        listed: list[Ranked] = []
        position = 0
        for r in requests:
            listed.append(explained[position])
            position += len(r.members) if isinstance(r, GroupRankRequest) else 1
        return listed

    def member_scores(self, requests: list[GroupRankRequest]) -> list[tuple[np.ndarray, np.ndarray]]:
        """What the aggregate stage reads for each group: (candidates int64 (C,) movie rows of the shared
        pool, scores float32 (M, C) each member's, -inf where not a candidate). For comparing strategies
        on the same member scores (the evaluation); `rank` is this followed by movierec.group.aggregate."""
        rows, groups = flatten(list(requests))
        batch, values = self.candidates_and_signals(rows, [positions for _, positions in groups])
        scored = self.weighted_sum(batch, values)
        members = np.concatenate([positions for _, positions in groups]) if groups else np.zeros(0, np.int64)
        scores = self._member_scores(batch, scored, members)
        return [(batch.candidates[p[0]][batch.valid[p[0]]], scores[p][:, batch.valid[p[0]]]) for _, p in groups]

    def _member_scores(self, batch: Batch, scored: Scored, members: np.ndarray) -> np.ndarray:
        """Each group member's scores (B, C): the weighted sum, in the learned order where it applies."""
        scorer = self.scorer
        if scorer is None or not len(members):
            return scored.total
        # As for a single user: the shortlist holds at least as many as the longest list asked for.
        shortlist = max(self.config.learned_candidates, *(batch.requests[i].limit for i in members))
        return learned.reorder_shortlists(scorer, batch, scored, self.movie_ratings, shortlist, members)

    @staticmethod
    def _group_list(
        owner: GroupRankRequest,
        batch: Batch,
        rows: np.ndarray,
        scores: np.ndarray,
        scored: Scored,
    ) -> Ranked:
        """The aggregate stage for the group whose members are at `rows` of the batch: scores (B, C) are
        the members' (the learned order where it applies); the parts shown are the weighted sum's."""
        valid = batch.valid[rows[0]]
        chosen = group.aggregate(
            scores[rows],
            valid,
            owner.strategy,
            owner.limit,
            owner.misery_threshold,
            owner.fair_depth,
            owner.pleasure_weight,
        )
        signals = {
            name: part[rows][:, chosen.positions].mean(axis=0).astype(np.float32)
            for name, part in scored.parts.items()
            if scored.applies[name][rows].any()
        }
        return Ranked(
            rows=batch.candidates[rows[0], chosen.positions],
            scores=chosen.scores,
            signals=signals,
            member_fit=chosen.fit,
        )

    def weighted_sum(self, batch: Batch, values: dict[str, np.ndarray]) -> Scored:
        """The combine stage's first phase over the signals' raw values (name -> float32 (B, C))."""
        # Each request's weights: the user profile's, or the anonymous one's; a signal weighted 0 for a
        # request does not take part in it.
        conversation = np.array([r.conversation for r in batch.requests])
        weights = {
            name: np.where(
                batch.has_user,
                self.config.weight(name),
                np.where(
                    conversation,
                    self.config.weight(name, anonymous=True, conversation=True),
                    self.config.weight(name, anonymous=True),
                ),
            )
            for name in values
        }
        applies = {name: signals.applies(name, batch) & (weights[name] != 0) for name in values}
        calibrated = combine.calibrate_all(values, batch.valid, self.config.calibration, batch.own)
        total, parts = combine.weigh(calibrated, applies, batch.valid, weights)
        return Scored(values=values, calibrated=calibrated, applies=applies, parts=parts, total=total)

    def candidates_and_signals(
        self, requests: list[RankRequest], shared: list[np.ndarray] | None = None
    ) -> tuple[Batch, dict[str, np.ndarray]]:
        """The first two stages: the batch with its candidates (B, C) and valid mask, and each active
        signal's raw values over them, name -> float32 (B, C) (what combine and the learned scorer read).
        shared: groups of request positions that share one candidate pool (a group's members)."""
        batch = self._batch(requests, list(shared or []))
        batch = batch.with_candidates(retrieval.retrieve(self.features, self.config, batch))
        return batch, signals.compute(self.features, self.config, batch)

    def _batch(self, requests: list[RankRequest], shared: list[np.ndarray]) -> Batch:
        index = self.index
        has_prompt = np.array([r.prompt_vector is not None for r in requests])
        has_user = np.array([r.user is not None for r in requests])
        has_examples = np.array([len(r.examples) > 0 for r in requests])
        active = frozenset(
            s
            for s in signals.names()
            if self.config.weight(s) != 0
            or self.config.weight(s, anonymous=True) != 0
            or self.config.weight(s, anonymous=True, conversation=True) != 0
        )
        # A request may have no query vector at all ("Tom Hanks movies": constraints only).
        queries = np.stack(
            [
                r.prompt_vector
                if r.prompt_vector is not None
                else r.user.taste
                if r.user is not None
                else np.zeros(index.dimensions, np.float32)
                for r in requests
            ]
        ).astype(np.float32)  # (B, d)
        match = None
        if "match" in active:
            match = self.matcher.scores([r.prompt if r.prompt_vector is not None else "" for r in requests])
            for i in np.flatnonzero(has_examples):  # "like X": X's genres and keywords are wanted too
                alike = self.matcher.similar_to(requests[i].examples)
                match[i] = (match[i] + alike) / 2 if match[i].any() else alike
        return Batch(
            requests=requests,
            queries=queries,
            has_prompt=has_prompt,
            has_user=has_user,
            has_examples=has_examples,
            has_query=has_prompt | has_user,
            active=active,
            collaborative=[self._collaborative(r) if "collaborative" in active else None for r in requests],
            match=match,
            shared=shared,
        )

    def _collaborative(self, request: RankRequest) -> np.ndarray | None:
        """EASE scores float32 (a,): of the examples when the request names some (what was asked for
        now outweighs the user's long history, whose taste the other signals keep), else of the
        user's history; None with neither."""
        if len(request.examples):
            return self.collaborative_scores(request.examples)
        return request.user.collaborative if request.user is not None else None
