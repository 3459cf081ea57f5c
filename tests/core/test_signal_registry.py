"""A signal is one registry entry: its computation, scale, meaning and default weights. A toy signal
registered here (and nowhere else) is computed, weighted, explained and configurable by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from movierec import combine, signals
from movierec.artifact import IndexArtifact
from movierec.batch import Batch
from movierec.features import IndexFeatures
from movierec.ranking import Ranker, RankingConfig, RankRequest, UserProfile
from movierec.settings import Settings, load_settings

from synthetic import random_scorer, synthetic_artifact, unit_rows

TOY_WEIGHT = 3.0


def every_seventh(features: IndexFeatures, config: RankingConfig, batch: Batch) -> np.ndarray:
    """A made-up signal: 1 for every seventh movie of the catalogue, 0 for the others."""
    return (batch.candidates % 7 == 0).astype(np.float32)


TOY = signals.Signal(
    "toy", "", "dense", "every seventh movie", every_seventh, weight=TOY_WEIGHT, anonymous_weight=TOY_WEIGHT
)


@pytest.fixture
def toy_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signals, "REGISTRY", (*signals.REGISTRY, TOY))


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> IndexArtifact:
    return synthetic_artifact(tmp_path_factory.mktemp("toy") / "v1", seed=3)


def mood(seed: int, d: int = 16) -> np.ndarray:
    return unit_rows(np.random.default_rng(seed), 1, d)[0]


def profile(index: IndexArtifact, row: int) -> UserProfile:
    return Ranker(index, RankingConfig()).profile(row)


def test_the_entry_alone_gives_the_signal_its_default_weights_and_setting_names(
    toy_registered: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = RankingConfig()
    assert config.weight("toy") == TOY_WEIGHT and config.weight("toy", anonymous=True) == TOY_WEIGHT
    assert config.weight("toy", anonymous=True, conversation=True) == TOY_WEIGHT  # no conversation weight of its own
    monkeypatch.setenv("MOVIEREC_WEIGHT_TOY", "0.5")
    assert load_settings().ranking.weights["toy"] == 0.5
    assert Settings(ranking={"anonymous_weights": {"toy": 1.5}}).ranking.weight("toy", anonymous=True) == 1.5
    assert Settings().flat()["weight_toy"] == TOY_WEIGHT


def test_without_the_entry_the_name_is_no_setting() -> None:
    with pytest.raises(ValueError, match="unknown setting 'weight_toy'"):
        Settings(weight_toy=1.0)


@pytest.mark.parametrize("with_user", [False, True], ids=["anonymous", "user"])
def test_a_registered_toy_signal_is_ranked_with_and_its_part_is_weight_times_z_score(
    index: IndexArtifact, toy_registered: None, with_user: bool
) -> None:
    config = RankingConfig(candidate_movies=80, similar_users=10, ranker="weighted_sum")
    ranker = Ranker(index, config)
    request = RankRequest("a drama", mood(1), profile(index, 4) if with_user else None, limit=20)
    ranked = ranker.rank([request])[0]
    assert "toy" in ranked.signals
    np.testing.assert_allclose(sum(ranked.signals.values()), ranked.scores, rtol=1e-5, atol=1e-5)

    # Brute force: the toy's part of each listed movie is its weight x its z-score over the request's candidates.
    batch, values = ranker.candidates_and_signals([request])
    pool = batch.candidates[0][batch.valid[0]]
    raw = (pool % 7 == 0).astype(np.float64)
    listed = (ranked.rows % 7 == 0).astype(np.float64)
    expected = TOY_WEIGHT * (listed - raw.mean()) / raw.std()
    np.testing.assert_allclose(ranked.signals["toy"], expected, rtol=1e-4, atol=1e-5)

    # It moves the list: every seventh movie is favoured with it and not without it.
    without = Ranker(index, config.replace(weights={"toy": 0.0}, anonymous_weights={"toy": 0.0})).rank([request])[0]
    assert "toy" not in without.signals
    assert (ranked.rows % 7 == 0).mean() > (without.rows % 7 == 0).mean()


def test_combine_reads_the_new_entrys_scale(toy_registered: None) -> None:
    x = np.array([[0.0, 1.0, 2.0, 3.0]], np.float32)
    valid = np.ones_like(x, dtype=bool)
    np.testing.assert_allclose(combine.calibrate("toy", x, valid), (x - x.mean()) / x.std(), rtol=1e-6)


def test_the_learned_ranker_skips_a_signal_it_was_not_trained_on(tmp_path: Path, toy_registered: None) -> None:
    index = synthetic_artifact(tmp_path / "v1", seed=5, learned=random_scorer(2))
    assert index.learned is not None and "toy" not in index.learned.inputs
    ranker = Ranker(index, RankingConfig(candidate_movies=80, similar_users=10, learned_candidates=20))
    request = RankRequest("", None, ranker.profile(2), limit=10)  # what the model serves: a user, no mood
    ranked = ranker.rank([request])[0]
    assert len(ranked.rows) == 10
    # Its parts are the model's inputs and the baseline; the toy took part in the shortlist only.
    assert "toy" not in ranked.signals and set(ranked.signals) <= {*index.learned.inputs, "baseline"}
    np.testing.assert_allclose(sum(ranked.signals.values()), ranked.scores, rtol=1e-4, atol=1e-4)
