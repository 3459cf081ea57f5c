"""The ONNX backends against fp32 PyTorch: the same vectors (fp32), close ones (int8), one export per model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from movierec.embedding import Encoder, OnnxEncoder, encoder_fingerprint, load_encoder
from movierec.onnx_model import model_file, prepared_model

TEXTS = ["a thrilling action flick", "romance, nothing scary", "something like Super Troopers but not so dumb",
         "Hi! We want a comedy for the kids tonight, nothing scary, maybe animated, under two hours please",
         "The Dark Knight (2008). Batman raises the stakes in his war on crime. Action, Crime, Drama. "
         "Keywords: dc comics, joker, vigilante. Directed by Christopher Nolan. With Christian Bale, "
         "Heath Ledger, Aaron Eckhart." * 3, "x"]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def onnx_fp32(encoder: Encoder, cache_dir: Path) -> OnnxEncoder:
    built = load_encoder(encoder.model_dir, "onnx", cache_dir)
    assert isinstance(built, OnnxEncoder)
    return built


@pytest.fixture(scope="module")
def onnx_int8(encoder: Encoder, cache_dir: Path) -> OnnxEncoder:
    built = load_encoder(encoder.model_dir, "onnx-int8", cache_dir)
    assert isinstance(built, OnnxEncoder)
    return built


def test_the_fp32_export_gives_pytorchs_vectors_on_padded_batches_of_any_length(
        encoder: Encoder, onnx_fp32: OnnxEncoder) -> None:
    expected = encoder.encode(TEXTS)
    for got in (onnx_fp32.encode(TEXTS), np.concatenate([onnx_fp32.encode([t]) for t in TEXTS]),
                onnx_fp32.encode(TEXTS, threads=1)):
        assert got.dtype == np.float32 and got.shape == expected.shape
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
        assert float((got * expected).sum(axis=1).min()) > 1 - 1e-5


def test_int8_vectors_stay_close_to_fp32(encoder: Encoder, onnx_int8: OnnxEncoder) -> None:
    expected = encoder.encode(TEXTS)
    got = onnx_int8.encode(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosine = (got * expected).sum(axis=1)
    assert cosine.min() > 0.97 and cosine.mean() > 0.985, cosine
    # ... and still mean what fp32 means: each text is nearest its own fp32 vector.
    assert ((got @ expected.T).argmax(axis=1) == np.arange(len(TEXTS))).all()


def test_the_model_files_are_made_once_and_their_vectors_kept_apart(
        encoder: Encoder, onnx_fp32: OnnxEncoder, onnx_int8: OnnxEncoder, cache_dir: Path) -> None:
    fp32, int8 = model_file(cache_dir, encoder.model_dir, False), model_file(cache_dir, encoder.model_dir, True)
    assert onnx_fp32.model_path == fp32 and onnx_int8.model_path == int8
    assert int8.stat().st_size < fp32.stat().st_size
    made = (fp32.stat().st_mtime_ns, int8.stat().st_mtime_ns)
    assert prepared_model(encoder.model_dir, cache_dir, True) == int8
    assert (fp32.stat().st_mtime_ns, int8.stat().st_mtime_ns) == made  # found, not made again
    assert not [p for p in fp32.parent.iterdir() if p.name.endswith(".partial")]
    fingerprints = {encoder.fingerprint, onnx_fp32.fingerprint, onnx_int8.fingerprint}
    assert len(fingerprints) == 3 and encoder.fingerprint == encoder_fingerprint(encoder.model_dir)


def test_an_unknown_backend_is_refused(encoder: Encoder, cache_dir: Path) -> None:
    with pytest.raises(ValueError, match="onnx-int8"):
        load_encoder(encoder.model_dir, "tensorrt", cache_dir)
