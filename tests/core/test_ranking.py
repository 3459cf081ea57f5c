from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from movierec import signals as registry
from movierec.artifact import IndexArtifact
from movierec.ranking import Ranker, RankingConfig, RankRequest, UserProfile, quality_prior, standardise

from synthetic import synthetic_artifact, unit_rows


@pytest.fixture(scope="module", params=[0, 150], ids=["ease-all", "ease-capped"])
def index(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> IndexArtifact:
    """EASE over every rated movie, or capped at 150 with item-kNN scores for the rated movies beyond."""
    built = synthetic_artifact(tmp_path_factory.mktemp("synthetic") / "v1", ease_max_items=request.param)
    assert (len(built.tail_items) > 0) == (request.param > 0)
    return built


def collaborative_matrix(index: IndexArtifact) -> np.ndarray:
    """The collaborative model as one dense (n_movies, n_movies) matrix: EASE's B, the tail's kNN columns."""
    n = len(index.movies)
    full = np.zeros((n, n))
    full[np.ix_(index.ease_items, index.ease_items)] = index.ease_weights
    full[:, index.tail_items] = index.tail_weights.toarray()  # type: ignore[union-attr]
    return full


CONFIG = RankingConfig(
    candidate_movies=120,
    similar_users=10,
    weights={"quality": 0.2, "popularity": 0.2, "match": 0.5, "genre_fit": 0.3},
    anonymous_weights={"match": 0.5},
)


def P(index: IndexArtifact, row: int) -> UserProfile:  # noqa: N802 - reads like a constructor
    """The index's profile of the user at `row`."""
    return Ranker(index, CONFIG).profile(row)


def prompt(seed: int, d: int = 16) -> np.ndarray:
    return unit_rows(np.random.default_rng(seed), 1, d)[0]


def test_scores_are_the_sum_of_signals_and_sorted(index: IndexArtifact) -> None:
    ranked = Ranker(index, CONFIG).rank([RankRequest("a drama", prompt(1), user=P(index, 3), limit=25)])[0]
    assert len(ranked.rows) == 25
    assert set(ranked.signals) == set(registry.names())
    np.testing.assert_allclose(sum(ranked.signals.values()), ranked.scores, rtol=1e-5, atol=1e-5)
    assert np.all(np.diff(ranked.scores) <= 1e-6)


def test_matches_a_brute_force_reference(index: IndexArtifact) -> None:
    """Recompute one request with plain numpy over the whole catalogue and compare, every signal on."""
    q = prompt(2)
    text = "a comedy and romance movie about time travel"
    user = 5
    cfg = RankingConfig(
        candidate_movies=60,
        match_candidates=40,
        collaborative_candidates=30,
        similar_users=10,
        weights={
            "prompt": 0.7,
            "match": 1.3,
            "collaborative": 1.0,
            "community": 0.4,
            "taste": 0.3,
            "quality": 0.2,
            "popularity": 0.25,
            "genre_fit": 0.35,
        },
    )
    ranked = Ranker(index, cfg).rank([RankRequest(text, q, user=P(index, user), limit=30)])[0]

    n = len(index.movies)
    rated = set(index.rated(user).tolist())
    # collaborative: x_user @ EASE over the whole catalogue
    history = np.zeros(n)
    history[list(rated)] = 1
    collaborative = history @ collaborative_matrix(index)
    # match: IDF-weighted share of the prompt's tags ("comedy", "romance", "time travel")
    tags = {"comedy": [], "romance": [], "time travel": []}
    for i, m in enumerate(index.movies):
        carried = {t.lower() for t in (*m.genres, *m.keywords)}
        for t in tags:
            if t in carried:
                tags[t].append(i)
    idf = {t: np.log((n + 1) / (len(rows) + 1)) for t, rows in tags.items()}
    match = np.zeros(n)
    for t, rows in tags.items():
        match[rows] += idf[t]
    match /= sum(idf.values())
    sims = index.movie_vectors @ q
    candidates = set(np.argsort(-sims, kind="stable")[:60].tolist())
    positive = np.flatnonzero(match > 0)
    candidates |= (
        set(positive[np.argsort(-match[positive], kind="stable")][:40].tolist())
        if len(positive) > 40
        else set(positive.tolist())
    )
    candidates |= set(np.argsort(-collaborative, kind="stable")[:30].tolist())
    candidates = np.array(sorted(candidates - rated))
    # community: similarity-weighted centred ratings of the 10 users nearest the prompt
    user_sims = index.user_vectors @ q
    neighbours = [u for u in np.argsort(-user_sims, kind="stable") if u != user][:10]
    centred = np.zeros((len(index.user_ids), n))
    for j in range(len(index.user_ids)):
        rows = index.rated(j)
        values = index.rated_values[index.rated_ptr[j] : index.rated_ptr[j + 1]]
        centred[j, rows] = values - values.mean()
    weights = np.maximum(user_sims[neighbours], 0)
    community = (weights[:, None] * centred[neighbours]).sum(axis=0) / weights.sum()
    raw = {
        "prompt": sims,
        "match": match,
        "collaborative": collaborative,
        "community": community,
        "taste": index.movie_vectors @ index.user_vectors[user],
        "quality": quality_prior(
            np.array([m.vote_average for m in index.movies]), np.array([m.vote_count for m in index.movies])
        ),
        "popularity": np.log1p(np.array([m.vote_count for m in index.movies], dtype=np.float64)),
        "genre_fit": genre_fit(index, q),
    }
    parts = {}
    for name, values in raw.items():  # the match share as it is, every other signal as a z-score
        v = values[candidates]
        if np.ptp(v) <= 1e-9:
            value = 0 * v
        elif name == "match":
            value = v
        else:
            value = (v - v.mean()) / v.std()
        parts[name] = cfg.weight(name) * value
    total = sum(parts.values())
    assert set(ranked.signals) == set(raw)
    position = {int(c): i for i, c in enumerate(candidates)}
    assert set(ranked.rows.tolist()) <= set(position)
    for name, part in parts.items():  # every signal of every returned movie, as recomputed
        np.testing.assert_allclose(
            ranked.signals[name], part[[position[int(r)] for r in ranked.rows]], atol=1e-4, err_msg=name
        )
    expected = candidates[np.argsort(-total, kind="stable")[:30]]
    np.testing.assert_array_equal(ranked.rows, expected)


def genre_fit(index: IndexArtifact, q: np.ndarray) -> np.ndarray:
    """Per movie, the mean over its genres of the prompt's cosine to the genre's mean movie vector."""
    genres = sorted({g for m in index.movies for g in m.genres})
    centroid = {}
    for g in genres:
        c = index.movie_vectors[[i for i, m in enumerate(index.movies) if g in m.genres]].sum(axis=0)
        centroid[g] = c / np.linalg.norm(c)
    return np.array([np.mean([centroid[g] @ q for g in m.genres]) if m.genres else 0.0 for m in index.movies])


def test_rated_movies_left_out_unless_asked(index: IndexArtifact) -> None:
    ranker = Ranker(index, RankingConfig(candidate_movies=300, similar_users=10))
    user = 2
    rated = set(index.rated(user).tolist())
    excluded = ranker.rank([RankRequest("x", prompt(3), user=P(index, user), limit=100)])[0]
    assert not rated & set(excluded.rows.tolist())
    included = ranker.rank([RankRequest("x", prompt(3), user=P(index, user), limit=300, include_rated=True)])[0]
    assert rated <= set(included.rows.tolist())


def test_anonymous_request_has_no_taste_signal(index: IndexArtifact) -> None:
    ranked = Ranker(index, CONFIG).rank([RankRequest("a western", prompt(4), user=None, limit=10)])[0]
    assert set(ranked.signals) == {"prompt", "match", "genre_fit", "community", "quality", "popularity"}


def test_empty_prompt_follows_the_users_taste(index: IndexArtifact) -> None:
    ranked = Ranker(index, CONFIG).rank([RankRequest("", None, user=P(index, 7), limit=10)])[0]
    assert "prompt" not in ranked.signals
    assert len(ranked.rows) == 10
    assert set(ranked.signals) == {"collaborative", "community", "taste", "quality", "popularity"}


def test_a_batch_equals_requests_one_by_one(index: IndexArtifact) -> None:
    ranker = Ranker(index, CONFIG)
    requests = [
        RankRequest("a horror movie", prompt(10), None, 10),
        RankRequest("heist", prompt(11), P(index, 1), 15),
        RankRequest("", None, P(index, 4), 5),
        RankRequest("zombie road trip", prompt(12), P(index, 9), 20, include_rated=True),
    ]
    batch = ranker.rank(requests)
    for request, together in zip(requests, batch):
        alone = ranker.rank([request])[0]
        np.testing.assert_array_equal(together.rows, alone.rows)
        np.testing.assert_allclose(together.scores, alone.scores, rtol=1e-5, atol=1e-5)
        assert together.signals.keys() == alone.signals.keys()


def test_community_read_a_few_requests_at_a_time_is_the_same(
    index: IndexArtifact, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Big catalogues make the batch's per-movie sums dense a few requests at a time: same numbers.
    from movierec import signals

    ranker = Ranker(index, CONFIG)
    requests = [RankRequest("a horror movie", prompt(20 + i), P(index, i) if i % 2 else None, 10) for i in range(5)]
    whole = ranker.rank(requests)
    monkeypatch.setattr(signals, "DENSE_ROWS_MAX_VALUES", 2 * len(index.movies))  # two requests at a time
    chunked = ranker.rank(requests)
    for a, b in zip(whole, chunked):
        np.testing.assert_array_equal(a.rows, b.rows)
        np.testing.assert_array_equal(a.signals["community"], b.signals["community"])


def test_limit_larger_than_the_catalogue(index: IndexArtifact) -> None:
    ranked = Ranker(index, RankingConfig(candidate_movies=10_000, similar_users=10_000)).rank(
        [RankRequest("anything", prompt(5), user=P(index, 0), limit=1000)]
    )[0]
    assert len(ranked.rows) == len(index.movies) - len(index.rated(0))
    assert len(set(ranked.rows.tolist())) == len(ranked.rows)


def test_quality_prior_shrinks_movies_with_few_votes() -> None:
    prior = quality_prior(np.array([9.5, 9.5, 6.0, 6.0]), np.array([2, 2000, 1000, 1000]))
    assert prior[1] > prior[0]  # same average, more votes: trusted more
    assert 6.0 < prior[0] < 9.5  # few votes: pulled towards the mean


def test_standardise_ignores_invalid_entries_and_constant_rows() -> None:
    x = np.array([[1.0, 2.0, 3.0, 100.0], [5.0, 5.0, 5.0, 5.0]])
    valid = np.array([[True, True, True, False], [True, True, True, True]])
    z = standardise(x, valid)
    np.testing.assert_allclose(z[0, :3], [-1.2247449, 0.0, 1.2247449], rtol=1e-6)
    np.testing.assert_array_equal(z[1], 0)


def test_with_weights_switches_signals_off(index: IndexArtifact) -> None:
    only_prompt = CONFIG.with_weights(prompt=1)
    ranked = Ranker(index, only_prompt).rank([RankRequest("a drama", prompt(6), user=P(index, 2), limit=10)])[0]
    assert set(ranked.signals) == {"prompt"}
    expected = [
        r
        for r in np.argsort(-(index.movie_vectors @ prompt(6)), kind="stable")
        if r not in set(index.rated(2).tolist())
    ][:10]
    np.testing.assert_array_equal(ranked.rows, expected)


def test_results_stay_inside_the_allowed_movies(index: IndexArtifact) -> None:
    rng = np.random.default_rng(4)
    ranker = Ranker(index, CONFIG)
    for allowed_share in (0.5, 0.05, 0.0):
        allowed = rng.random(len(index.movies)) < allowed_share
        requests = [
            RankRequest("a drama", prompt(20), None, 30, allowed=allowed),
            RankRequest("a drama", prompt(21), P(index, 3), 30, allowed=allowed),
            RankRequest("", None, P(index, 5), 30, allowed=allowed),
            RankRequest("", None, None, 30, allowed=allowed),
        ]  # constraints only: no query vector
        for request, ranked in zip(requests, ranker.rank(requests)):
            assert allowed[ranked.rows].all()
            possible = allowed.copy()
            if request.user is not None:
                possible[request.user.rated_rows] = False
            assert len(ranked.rows) == min(30, int(possible.sum()))  # every allowed movie is reachable


def test_constraints_only_ranks_the_allowed_movies_by_their_signals(index: IndexArtifact) -> None:
    allowed = np.zeros(len(index.movies), bool)
    allowed[::7] = True
    ranked = Ranker(index, CONFIG).rank([RankRequest("", None, None, 10, allowed=allowed)])[0]
    assert "prompt" not in ranked.signals and "collaborative" not in ranked.signals
    np.testing.assert_allclose(sum(ranked.signals.values()), ranked.scores, atol=1e-5)
    assert np.all(np.diff(ranked.scores) <= 1e-6)


def test_examples_count_as_history_for_anonymous_requests(index: IndexArtifact) -> None:
    ranker = Ranker(index, CONFIG)
    examples = index.rated(2)[:3].astype(np.int64)
    ranked = ranker.rank([RankRequest("", prompt(30), None, 20, examples=examples)])[0]
    assert "collaborative" in ranked.signals and np.any(ranked.signals["collaborative"] != 0)
    # The same scores as a user whose history is exactly those movies.
    history = ranker.collaborative_scores(examples)
    expected = np.zeros(len(index.movies), np.float32)
    expected[index.collaborative_items] = history
    history_vector = np.zeros(len(index.movies))
    history_vector[examples] = 1
    np.testing.assert_allclose(expected, history_vector @ collaborative_matrix(index), atol=1e-5)
    assert spearmanr(expected[ranked.rows], ranked.signals["collaborative"]).statistic > 0.999


def test_an_approximate_index_ranks_like_the_exact_one_where_both_see_the_same_candidates(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The IVF path computes every signal (genre_fit included) the way the exact path does."""
    exact = synthetic_artifact(tmp_path_factory.mktemp("exact") / "v1", seed=8)
    approximate = synthetic_artifact(tmp_path_factory.mktemp("ivf") / "v1", seed=8, exact_search_max=100)
    cfg = RankingConfig(
        candidate_movies=300,
        match_candidates=300,
        collaborative_candidates=300,
        similar_users=10,
        weights={"genre_fit": 0.5, "quality": 0.2, "popularity": 0.2},
    )
    request = RankRequest("a comedy", prompt(40), None, 20)
    a = Ranker(exact, cfg).rank([request])[0]
    b = Ranker(approximate, cfg).rank([request])[0]
    np.testing.assert_allclose(a.signals["genre_fit"], b.signals["genre_fit"], atol=1e-4)
    np.testing.assert_array_equal(a.rows, b.rows)


def test_a_ranked_list_followed_by_another() -> None:
    from movierec.ranking import Ranked

    first = Ranked(
        rows=np.array([3, 1]),
        scores=np.array([2.0, 1.0], np.float32),
        signals={"prompt": np.array([1.5, 0.5], np.float32)},
    )
    more = Ranked(
        rows=np.array([7]), scores=np.array([4.0], np.float32), signals={"quality": np.array([4.0], np.float32)}
    )
    both = first.followed_by(more)
    assert both.rows.tolist() == [3, 1, 7] and both.scores.tolist() == [2.0, 1.0, 4.0]
    assert both.signals["prompt"].tolist() == [1.5, 0.5, 0.0] and both.signals["quality"].tolist() == [0, 0, 4.0]
    assert both.member_fit is None
