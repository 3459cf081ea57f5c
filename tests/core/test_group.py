"""The aggregate stage (movierec.group) against brute-force references, and groups in the ranking."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from movierec.artifact import IndexArtifact
from movierec.group import FAIR_TOP_CHANCE, STRATEGY_NAMES, aggregate, fits
from movierec.ranking import GroupRankRequest, Ranker, RankingConfig, RankRequest

from synthetic import random_scorer, synthetic_artifact, unit_rows

CONFIG = RankingConfig(
    candidate_movies=60,
    collaborative_candidates=30,
    similar_users=10,
    weights={"quality": 0.2, "popularity": 0.2, "match": 0.5, "genre_fit": 0.3},
)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> IndexArtifact:
    return synthetic_artifact(tmp_path_factory.mktemp("group") / "v1")


@pytest.fixture(scope="module")
def learned_index(tmp_path_factory: pytest.TempPathFactory) -> IndexArtifact:
    return synthetic_artifact(tmp_path_factory.mktemp("group-learned") / "v1", learned=random_scorer(3))


def brute_fit(scores: np.ndarray) -> np.ndarray:
    """Share of the other candidates strictly below, ties counting half: (M, C)."""
    m, c = scores.shape
    out = np.zeros((m, c))
    for u in range(m):
        for i in range(c):
            below = np.sum(scores[u] < scores[u, i]) + 0.5 * (np.sum(scores[u] == scores[u, i]) - 1)
            out[u, i] = below / (c - 1)
    return out


def brute_z(scores: np.ndarray) -> np.ndarray:
    return (scores - scores.mean(1, keepdims=True)) / scores.std(1, keepdims=True)


@pytest.mark.parametrize("seed", range(4))
def test_fits_match_a_brute_force_count_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, size=(3, 25)).astype(np.float32)  # many ties
    np.testing.assert_allclose(fits(scores, np.ones(25, bool)), brute_fit(scores), atol=1e-6)
    valid = rng.random(25) < 0.6
    got = fits(scores, valid)
    assert np.all(got[:, ~valid] == 0)
    np.testing.assert_allclose(got[:, valid], brute_fit(scores[:, valid]), atol=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_each_strategy_matches_its_brute_force_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m, c, limit = 3, 40, 12
    scores = rng.standard_normal((m, c)).astype(np.float32) * rng.uniform(0.5, 4, (m, 1)).astype(np.float32)
    valid = np.ones(c, bool)
    z = brute_z(scores.astype(np.float64))
    fit = brute_fit(scores)

    def order(key: np.ndarray) -> list[int]:
        return sorted(range(c), key=lambda i: -key[i])[:limit]

    assert aggregate(scores, valid, "average", limit).positions.tolist() == order(z.mean(0))
    got = aggregate(scores, valid, "least_misery", limit)
    assert [round(float(z[:, i].min()), 4) for i in got.positions] == [
        round(float(z[:, i].min()), 4) for i in order(z.min(0))
    ]
    got = aggregate(scores, valid, "average_and_best", limit, pleasure_weight=0.7)
    assert got.positions.tolist() == order(z.mean(0) + 0.7 * z.max(0))
    got = aggregate(scores, valid, "average_without_misery", limit, misery_threshold=0.3)
    vetoed = (fit < 0.3).any(0)
    expected = sorted(np.flatnonzero(~vetoed), key=lambda i: -z.mean(0)[i]) + sorted(
        np.flatnonzero(vetoed), key=lambda i: -z.mean(0)[i]
    )
    assert got.positions.tolist() == expected[:limit]
    # fair: each pick maximises the sum over members of p(member likes it) x p(nothing picked before was liked).
    depth = 8
    rank = np.rint((1 - fit) * (c - 1))
    p = FAIR_TOP_CHANCE * np.clip(1 - rank / depth, 0, 1)
    picked: list[int] = []
    for _ in range(limit):
        gains = [
            sum(p[u, i] * np.prod([1 - p[u, j] for j in picked]) for u in range(m)) if i not in picked else -1.0
            for i in range(c)
        ]
        if max(gains) <= 1e-12:
            break
        picked.append(int(np.argmax(gains)))
    got = aggregate(scores, valid, "fair", limit, fair_depth=depth)
    assert got.positions.tolist()[: len(picked)] == picked
    rest = sorted((i for i in range(c) if i not in picked), key=lambda i: -z.mean(0)[i])[: limit - len(picked)]
    assert got.positions.tolist()[len(picked) :] == rest
    assert np.all(np.diff(got.scores) <= 1e-9)  # the values it ranks by never rise down the list
    # Every strategy reports each member's fit of each listed movie.
    for strategy in STRATEGY_NAMES:
        listed = aggregate(scores, valid, strategy, limit)
        np.testing.assert_allclose(listed.fit, fit[:, listed.positions].T, atol=1e-6)


def test_an_empty_pool_gives_an_empty_list() -> None:
    listed = aggregate(np.zeros((3, 5), np.float32), np.zeros(5, bool), "fair", 10)
    assert len(listed.positions) == 0 and listed.fit.shape == (0, 3)


def test_an_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="not one of"):
        aggregate(np.zeros((2, 5), np.float32), np.ones(5, bool), "dictator", 3)


def member_requests(ranker: Ranker, rows: list[int], q: np.ndarray | None, limit: int = 10) -> tuple[RankRequest, ...]:
    profiles = [ranker.profile(r) for r in rows]
    allowed = np.ones(len(ranker.index.movies), bool)
    for p in profiles:
        allowed[p.rated_rows] = False
    return tuple(
        RankRequest("a drama" if q is not None else "", q, user=p, limit=limit, allowed=allowed) for p in profiles
    )


def group(members: tuple[RankRequest, ...], strategy: str = "average", limit: int = 10) -> GroupRankRequest:
    return GroupRankRequest(members, limit, strategy, misery_threshold=0.2, fair_depth=20, pleasure_weight=0.5)


@pytest.mark.parametrize("with_prompt", [True, False])
@pytest.mark.parametrize("learned", [False, True])
def test_a_member_ranks_the_shared_pool_as_they_would_their_own(
    index: IndexArtifact, learned_index: IndexArtifact, with_prompt: bool, learned: bool
) -> None:
    """Each member's scores over the group's pool, restricted to what they retrieved themselves, order those
    movies as their own single-user request does (signals are scaled over the member's own candidates). With
    the learned ranker, its shortlist here covers every candidate, so the two orders are comparable whole."""
    config = CONFIG.replace(learned_candidates=10_000) if learned else CONFIG
    ranker = Ranker(learned_index if learned else index, config)
    q = unit_rows(np.random.default_rng(4), 1, 16)[0] if with_prompt else None
    members = member_requests(ranker, [2, 9, 17], q)
    ((candidates, scores),) = ranker.member_scores([group(members)])
    assert np.all(np.isfinite(scores))
    for m, request in enumerate(members):
        alone = ranker.rank([replace(request, limit=len(candidates))])[0]
        own = alone.rows.tolist()
        position = {row: i for i, row in enumerate(candidates.tolist())}
        assert set(own) <= set(position)  # the pool is the union of the members' own pools
        mine = scores[m, [position[r] for r in own]]
        if learned:  # values dealt out in the learned order: the same order, on the weighted sum's scale
            assert [own[i] for i in np.argsort(-mine, kind="stable")] == own
        else:
            np.testing.assert_allclose(mine, alone.scores, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("strategy", STRATEGY_NAMES)
def test_a_group_list_is_the_aggregate_of_its_members_and_independent_of_the_batch(
    index: IndexArtifact, strategy: str
) -> None:
    ranker = Ranker(index, CONFIG)
    q = unit_rows(np.random.default_rng(5), 1, 16)[0]
    members = member_requests(ranker, [1, 4, 8, 30], q)
    request = group(members, strategy)
    ((candidates, scores),) = ranker.member_scores([request])
    expected = aggregate(scores, np.ones(len(candidates), bool), strategy, 10, 0.2, 20, 0.5)
    alone = ranker.rank([request])[0]
    assert alone.rows.tolist() == candidates[expected.positions].tolist()
    np.testing.assert_allclose(alone.member_fit, expected.fit, atol=1e-6)
    assert alone.member_fit.shape == (10, 4)
    rated = {int(r) for m in members for r in m.user.rated_rows}  # type: ignore[union-attr]
    assert not rated & set(alone.rows.tolist())
    # The same group in a batch with a single-user request and another group.
    other = group(member_requests(ranker, [3, 5], None), "least_misery")
    single = RankRequest("a comedy", unit_rows(np.random.default_rng(6), 1, 16)[0], user=ranker.profile(7), limit=5)
    batched = ranker.rank([single, request, other])
    assert batched[1].rows.tolist() == alone.rows.tolist()
    np.testing.assert_allclose(batched[1].scores, alone.scores, rtol=1e-5)
    assert batched[0].rows.tolist() == ranker.rank([single])[0].rows.tolist()
    assert batched[2].rows.tolist() == ranker.rank([other])[0].rows.tolist()
    assert batched[0].member_fit is None


def test_members_who_rated_everything_get_an_empty_list(index: IndexArtifact) -> None:
    ranker = Ranker(index, CONFIG)
    members = tuple(
        replace(m, allowed=np.zeros(len(index.movies), bool)) for m in member_requests(ranker, [1, 2], None)
    )
    ranked = ranker.rank([group(members, "fair")])[0]
    assert len(ranked.rows) == 0 and ranked.member_fit is not None and ranked.member_fit.shape == (0, 2)


def test_a_lone_candidate_is_every_members_best() -> None:
    listed = aggregate(np.array([[0.3], [-2.0]], np.float32), np.ones(1, bool), "average_without_misery", 5)
    assert listed.positions.tolist() == [0] and listed.fit.tolist() == [[1.0, 1.0]]


def test_groups_and_single_requests_in_one_call_are_ranked_as_alone(index: IndexArtifact) -> None:
    """Groups are ranked apart from single requests, whose candidate arrays they would widen."""
    ranker = Ranker(index, CONFIG)
    single = RankRequest("", None, user=ranker.profile(11), limit=7)
    request = group(member_requests(ranker, [1, 2, 3, 4, 5], None))
    both = ranker.rank([request, single, request])
    assert both[1].rows.tolist() == ranker.rank([single])[0].rows.tolist()
    assert both[0].rows.tolist() == both[2].rows.tolist() == ranker.rank([request])[0].rows.tolist()
