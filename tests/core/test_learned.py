from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from movierec.combine import calibrate_all
from movierec.learned import (
    UNNAMED_INPUTS,
    LearnedScorer,
    candidate_features,
    listed,
    n_features,
    read_scorer,
    shortlist_of,
    train_scorer,
    write_scorer,
)

FEATURES = UNNAMED_INPUTS
F = n_features(len(FEATURES))


def planted(users: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random features; the liked candidate is the one where features 0 and 1 are both high, an
    interaction that no weighted sum of the features can pick out."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((users, width, F)).astype(np.float32)
    valid = rng.random((users, width)) > 0.1
    both = np.minimum(x[:, :, 0], x[:, :, 1])
    liked = np.argmax(np.where(valid, both, -np.inf), axis=1)
    positive = np.zeros((users, width), dtype=bool)
    positive[np.arange(users), liked] = True
    return x, valid, positive


def test_a_planted_interaction_is_learned_and_ranked_first() -> None:
    x, valid, positive = planted(600, 20, seed=1)
    scorer = train_scorer(FEATURES, x, valid, positive, epochs=40, seed=0)
    test_x, test_valid, test_positive = planted(300, 20, seed=2)
    scores = np.where(test_valid, scorer.score(test_x), -np.inf)
    first = (np.argmax(scores, axis=1) == np.argmax(test_positive, axis=1)).mean()
    # The best weighted sum of the two features (equal weights) is the reference it must beat.
    linear = np.where(test_valid, test_x[:, :, 0] + test_x[:, :, 1], -np.inf)
    linear_first = (np.argmax(linear, axis=1) == np.argmax(test_positive, axis=1)).mean()
    assert first >= 0.8 and first > linear_first + 0.1, (first, linear_first)
    assert scorer.curve[-1]["train"] < scorer.curve[0]["train"]


def test_training_is_reproducible_for_a_seed() -> None:
    x, valid, positive = planted(100, 10, seed=3)
    a, b = (train_scorer(FEATURES, x, valid, positive, epochs=3, seed=7) for _ in range(2))
    for (wa, ba), (wb, bb) in zip(a.layers, b.layers):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ba, bb, rtol=1e-5, atol=1e-6)


def test_weights_round_trip_and_mismatched_weights_are_refused() -> None:
    x, valid, positive = planted(50, 8, seed=4)
    scorer = train_scorer(FEATURES, x, valid, positive, epochs=1)
    again = LearnedScorer.from_arrays(scorer.arrays())
    np.testing.assert_array_equal(again.score(x), scorer.score(x))
    broken = scorer.arrays()
    broken["w1"] = broken["w1"][:-1]
    with pytest.raises(ValueError, match="layer 1"):
        LearnedScorer.from_arrays(broken)
    with pytest.raises(ValueError, match="features"):
        LearnedScorer.from_arrays({"w0": np.zeros((3, 1), np.float32), "b0": np.zeros(1, np.float32)})


def test_features_are_the_pools_calibrated_values_and_raw_values_of_the_listed_candidates() -> None:
    rng = np.random.default_rng(5)
    valid = rng.random((3, 30)) > 0.2
    values = {
        "taste": rng.standard_normal((3, 30)).astype(np.float32),
        "quality": np.ones((3, 30), np.float32),
    }  # constant: its z-score is 0
    calibrated = calibrate_all(values, valid)  # over the whole pool of 30
    rows, positions = np.arange(3), np.tile(np.arange(10), (3, 1))
    keep = valid[:, :10]
    out = candidate_features(
        FEATURES,
        listed(calibrated, rows, positions),
        listed(values, rows, positions),
        keep,
        np.tile(np.arange(10), (3, 1)),
        np.array([9, 0, 4]),
    )
    assert out.shape == (3, 10, F)
    k = FEATURES.index("taste")
    for i in range(3):
        pool = values["taste"][i, valid[i]]
        expected = (values["taste"][i, :10] - pool.mean()) / pool.std()
        np.testing.assert_allclose(out[i, keep[i], k], expected[keep[i]], rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(out[i, keep[i], len(FEATURES) + k], values["taste"][i, :10][keep[i]])
        np.testing.assert_allclose(out[i, keep[i], -2], np.log1p(np.arange(10)[keep[i]]), rtol=1e-6)
    np.testing.assert_allclose(out[0, keep[0], -1], np.log1p(9), rtol=1e-6)  # the user's rating count
    assert not out[1, keep[1], -1].any()  # an anonymous request
    assert not out[:, :, FEATURES.index("quality")].any()
    assert not out[~keep].any()
    assert not out[:, :, FEATURES.index("prompt")].any()  # a signal absent from the batch is 0


def test_gradient_times_input_plus_the_offset_is_the_score() -> None:
    x, valid, positive = planted(200, 10, seed=6)
    scorer = train_scorer(FEATURES, x, valid, positive, epochs=5, seed=0)
    rows = x.reshape(-1, F)[:50]
    g = scorer.gradients(rows)
    # Against central finite differences (the ReLU pattern rarely flips within a small step).
    eps = 1e-3
    numeric = np.stack(
        [
            (
                scorer.score((rows + eps * np.eye(F, dtype=np.float32)[j])[None])[0]
                - scorer.score((rows - eps * np.eye(F, dtype=np.float32)[j])[None])[0]
            )
            / (2 * eps)
            for j in range(F)
        ],
        axis=1,
    )
    close = np.isclose(g, numeric, rtol=1e-2, atol=1e-3).all(axis=1)
    assert close.mean() > 0.9
    # Within one linear region the score is g . x + an offset that does not depend on x.
    offset = scorer.score(rows[None])[0] - (g * rows).sum(1)
    scaled = rows * 1.0001
    np.testing.assert_allclose(
        scorer.score(scaled[None])[0][close], ((g * scaled).sum(1) + offset)[close], rtol=1e-3, atol=1e-4
    )


def test_shortlist_holds_each_rows_best_valid_entries() -> None:
    rng = np.random.default_rng(7)
    total = rng.standard_normal((4, 50)).astype(np.float32)
    valid = rng.random((4, 50)) > 0.3
    valid[3, 5:] = False  # a row with fewer valid entries than the shortlist
    positions, keep = shortlist_of(np.where(valid, total, -np.inf), 10)
    assert positions.shape == (4, 10)
    for i in range(3):
        best = set(np.argsort(-np.where(valid[i], total[i], -np.inf))[:10].tolist())
        assert set(positions[i].tolist()) == best and keep[i].all()
    assert keep[3].sum() == valid[3].sum() and set(positions[3][keep[3]].tolist()) == set(np.flatnonzero(valid[3]))


def test_a_model_file_round_trips_and_garbage_is_refused(tmp_path: Path) -> None:
    x, valid, positive = planted(50, 8, seed=8)
    scorer = train_scorer(FEATURES, x, valid, positive, epochs=1)
    write_scorer(tmp_path / "m.npz", scorer)
    read = read_scorer(tmp_path / "m.npz")
    np.testing.assert_array_equal(read.score(x), scorer.score(x))
    assert read.inputs == FEATURES
    (tmp_path / "bad.npz").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a learned scorer"):
        read_scorer(tmp_path / "bad.npz")


def test_weights_that_are_not_finite_are_refused(tmp_path: Path) -> None:
    x, valid, positive = planted(50, 8, seed=9)
    broken = train_scorer(FEATURES, x, valid, positive, epochs=1).arrays()
    broken["w0"][0, 0] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        LearnedScorer.from_arrays(broken)


def test_a_model_saved_without_its_inputs_names_reads_the_signals_it_was_trained_on() -> None:
    x, valid, positive = planted(50, 8, seed=10)
    arrays = train_scorer(FEATURES, x, valid, positive, epochs=1).arrays()
    del arrays["inputs"]
    assert LearnedScorer.from_arrays(arrays).inputs == UNNAMED_INPUTS


def test_a_model_whose_inputs_do_not_fit_its_first_layer_is_refused() -> None:
    x, valid, positive = planted(50, 8, seed=11)
    arrays = train_scorer(FEATURES, x, valid, positive, epochs=1).arrays()
    arrays["inputs"] = np.array([*FEATURES, "another"], dtype=np.str_)
    with pytest.raises(ValueError, match="do not match its features"):
        LearnedScorer.from_arrays(arrays)
