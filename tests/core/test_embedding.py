from __future__ import annotations

import numpy as np
import pytest

from movierec.diagnostics import ArtifactError
from movierec.embedding import Encoder, model_fingerprint
from movierec.settings import Settings

pytestmark = pytest.mark.slow


def test_vectors_are_unit_length_float32(encoder: Encoder) -> None:
    vectors = encoder.encode(["a heist movie", "", "ünïcödé ✓ 映画", "x " * 2000])
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_batching_and_padding_do_not_change_a_vector(encoder: Encoder) -> None:
    texts = ["a short one", "a much longer text about a detective who investigates a series of crimes in a city"]
    together = encoder.encode(texts)
    for i, text in enumerate(texts):
        np.testing.assert_allclose(encoder.encode([text])[0], together[i], atol=1e-5)


def test_meaning_is_captured(encoder: Encoder) -> None:
    prompt, toys, war = encoder.encode(
        [
            "an animated movie about toys that come to life",
            "Toy Story. A cowboy doll feels threatened when a new space ranger toy arrives. Genres: Animation, Family",
            "Saving Private Ryan. Soldiers search for a paratrooper after the D-Day landings. Genres: War, Drama",
        ]
    )
    assert prompt @ toys > prompt @ war + 0.2


def test_empty_input_and_fingerprint(encoder: Encoder) -> None:
    assert encoder.encode([]).shape == (0, 384)
    model_dir = Settings().encoder.model_dir
    assert model_fingerprint(model_dir) == model_fingerprint(model_dir)
    assert len(model_fingerprint(model_dir)) == 16


def test_a_folder_that_is_not_a_model_is_refused(tmp_path) -> None:
    with pytest.raises(ArtifactError, match="no config.json"):
        Encoder(tmp_path)
