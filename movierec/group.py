"""Aggregate: one list for a group, from each member's scores over the group's shared candidates.

The members of a group are rows of one batch (movierec.ranking): each member's row is ranked with
the same machinery as a single user's request (retrieve, signals, weighted sum, the learned second
phase where it applies), over one candidate pool shared by the group. This stage turns those
member scores into one list, by a strategy from `STRATEGIES`:

    average                 the members' mean utility
    least_misery            the least satisfied member's utility (their mean breaks ties)
    average_without_misery  the mean, with every movie that some member ranks in the bottom
                            `misery_threshold` share of the pool put after all the others
    average_and_best        the mean plus `pleasure_weight` times the happiest member's utility: a
                            movie one member loves beats one that everybody finds middling
    fair                    a greedy list builder in the manner of GFAR (Kaya, Bridge and Tintarev,
                            RecSys 2020): a member's chance of liking a movie is FAIR_TOP_CHANCE for
                            their best candidate, falling linearly with its rank in their own list to
                            zero at `fair_depth`; each next pick maximises the expected number of
                            members who get their first liked movie from it, so a member already
                            served counts less (those least served so far are favoured); once no
                            member's list has anything left, the rest follows the mean.

A member's utility is their score standardised over the shared pool (mean 0, standard deviation
1), so that no member counts more because their scores spread wider. A member's *fit* for a movie
is the share of the pool's other movies that the member's own ranking puts below it: 1 for their
best candidate, 0.5 for the middle one. Shapes: M members, C shared candidates, L listed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from movierec.combine import standardise


@dataclass(frozen=True)
class Strategy:
    name: str
    meaning: str


STRATEGIES: tuple[Strategy, ...] = (
    Strategy("average", "the members' mean standardised score"),
    Strategy("least_misery", "the least satisfied member's standardised score"),
    Strategy(
        "average_without_misery",
        "the mean, after every movie some member ranks in their bottom share of the candidates",
    ),
    Strategy("average_and_best", "the mean plus a share of the happiest member's standardised score"),
    Strategy("fair", "a greedy list where each next pick favours the members least served so far (GFAR)"),
)
STRATEGY_NAMES: tuple[str, ...] = tuple(s.name for s in STRATEGIES)
MAX_MEMBERS = 20
# "fair": the chance a member likes their best candidate. Below 1, so that one movie does not make
# a member count as served for the rest of the list.
FAIR_TOP_CHANCE = 0.5


@dataclass(frozen=True)
class GroupList:
    """A group's list: positions int64 (L,) into the shared pool, best first; scores float32 (L,), the
    strategy's value for each pick (what it ranked by); fit float32 (L, M), each member's fit."""

    positions: np.ndarray
    scores: np.ndarray
    fit: np.ndarray


def fits(scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Each member's fit float32 (M, C) from their scores (M, C) over the valid pool (bool (C,)): the
    share of the other valid candidates ranked below (ties count half; a lone candidate is 1); 0 where
    not valid."""
    m, c = scores.shape
    n = int(valid.sum())
    out = np.zeros((m, c), np.float32)
    if n == 0:
        return out
    pool = np.where(np.isfinite(scores[:, valid]), scores[:, valid], np.finfo(np.float32).min)
    ranks = np.empty(pool.shape, np.float64)  # 0 = worst
    for i, row in enumerate(pool):  # ties share the mean of the ranks they occupy
        _, inverse, counts = np.unique(row, return_inverse=True, return_counts=True)
        ranks[i] = (np.cumsum(counts) - counts + (counts - 1) / 2.0)[inverse]
    if n == 1:  # the only candidate is each member's best
        ranks[:] = 1.0
    out[:, valid] = (ranks / max(n - 1, 1)).astype(np.float32)
    return out


def utilities(scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Each member's scores (M, C) standardised over the valid pool (C,): float32 (M, C), 0 where not valid."""
    finite = np.where(valid[None, :] & np.isfinite(scores), scores, 0.0)
    return standardise(finite, np.broadcast_to(valid, scores.shape))


def aggregate(
    scores: np.ndarray,
    valid: np.ndarray,
    strategy: str,
    limit: int,
    misery_threshold: float = 0.2,
    fair_depth: int = 20,
    pleasure_weight: float = 0.25,
) -> GroupList:
    """The group's list of up to `limit` from member scores float32 (M, C) (higher is better, -inf
    where a member's ranking has no value) over a shared pool with valid bool (C,)."""
    if strategy not in STRATEGY_NAMES:
        raise ValueError(f"group strategy {strategy!r} is not one of {', '.join(STRATEGY_NAMES)}")
    candidates = np.flatnonzero(valid)
    limit = min(limit, len(candidates))
    fit = fits(scores, valid)
    if limit == 0:
        return GroupList(np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros((0, len(scores)), np.float32))
    u = utilities(scores, valid)[:, candidates]  # (M, n)
    mean = u.mean(axis=0)
    if strategy == "fair":
        picked, value = fair_greedy(fit[:, candidates], mean, limit, fair_depth)
    else:
        if strategy == "average":
            key = mean
        elif strategy == "average_and_best":
            key = mean + pleasure_weight * u.max(axis=0)
        elif strategy == "least_misery":
            # The mean breaks ties (and near-ties) between movies with the same worst-off member.
            key = u.min(axis=0) + 1e-3 * mean
        else:  # average_without_misery: a vetoed movie comes after every movie nobody vetoes
            vetoed = (fit[:, candidates] < misery_threshold).any(axis=0)
            key = mean - np.where(vetoed, mean.max() - mean.min() + 1.0, 0.0)
        picked = np.argsort(-key, kind="stable")[:limit]
        value = key[picked]
    positions = candidates[picked]
    return GroupList(positions.astype(np.int64), value.astype(np.float32), fit[:, positions].T.copy())


def fair_greedy(fit: np.ndarray, mean: np.ndarray, limit: int, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """The GFAR-like greedy list: fit float32 (M, n) of the pool's n candidates, mean float (n,) the
    members' mean utility (the order once the members' lists are used up). Returns the picks int (L,)
    and each pick's marginal gain (L,): the expected number of members for whom it is the first liked
    movie of the list (non-increasing), with the mean's order after it as a fraction below the last gain."""
    n = fit.shape[1]
    # A member's chance of liking a candidate: FAIR_TOP_CHANCE for their best, falling linearly to 0 at rank `depth`.
    rank = np.rint((1.0 - fit) * max(n - 1, 0))  # 0 = best
    p = FAIR_TOP_CHANCE * np.clip(1.0 - rank / max(depth, 1), 0.0, 1.0)  # (M, n)
    picks, gains = expected_coverage_greedy(p, mean, limit)
    taken = np.zeros(n, bool)
    taken[picks] = True
    rest = np.flatnonzero(~taken)
    rest = rest[np.argsort(-mean[rest], kind="stable")][: limit - len(picks)]
    floor = float(gains.min()) if len(gains) else 0.0
    # The tail is ordered by the mean; its values sit below every gain, and keep that order.
    spread = float(mean.max() - mean.min()) + 1e-9
    tail = floor - 1.0 + (mean[rest] - mean.min()) / spread * 0.5 if len(rest) else np.zeros(0)
    return np.concatenate([picks, rest.astype(np.int64)]), np.concatenate([gains, tail])


def expected_coverage_greedy(chance: np.ndarray, tie_break: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """GFAR's greedy list from each member's chance of liking each candidate, float (M, n): each next pick
    maximises the expected number of members for whom it is the first liked movie; `tie_break` (n,) breaks
    exact ties. Stops at `limit` or when no candidate gains anything. Returns (picks int64 (L,), gains (L,))."""
    unserved = np.ones(len(chance))  # each member's chance that nothing picked so far is liked
    taken = np.zeros(chance.shape[1], bool)
    picks, gains = [], []
    for _ in range(min(limit, chance.shape[1])):
        gain = unserved @ chance  # (n,)
        gain[taken] = -np.inf
        best = int(np.argmax(gain + 1e-9 * (tie_break - tie_break.min())))
        if gain[best] <= 1e-12:
            break
        picks.append(best)
        gains.append(gain[best])
        taken[best] = True
        unserved *= 1.0 - chance[:, best]
    return np.array(picks, np.int64), np.array(gains, np.float64)
