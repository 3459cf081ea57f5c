"""The ONNX backends against fp32 PyTorch: the same vectors (fp32), close ones (int8), one export per model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import movierec.embedding as embedding
from movierec.embedding import Encoder, OnnxEncoder, encoder_fingerprint, load_encoder
from movierec.hardware import detect_cpu
from movierec.onnx_model import model_file, prepared_model

TEXTS = [
    "a thrilling action flick",
    "romance, nothing scary",
    "something like Super Troopers but not so dumb",
    "Hi! We want a comedy for the kids tonight, nothing scary, maybe animated, under two hours please",
    "The Dark Knight (2008). Batman raises the stakes in his war on crime. Action, Crime, Drama. "
    "Keywords: dc comics, joker, vigilante. Directed by Christopher Nolan. With Christian Bale, "
    "Heath Ledger, Aaron Eckhart." * 3,
    "x",
]


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def onnx_fp32(torch_encoder: Encoder, onnx_dir: Path) -> OnnxEncoder:
    built = load_encoder(torch_encoder.model_dir, "onnx", onnx_dir)
    assert isinstance(built, OnnxEncoder)
    return built


@pytest.fixture(scope="module")
def onnx_int8(torch_encoder: Encoder, onnx_dir: Path) -> OnnxEncoder:
    built = load_encoder(torch_encoder.model_dir, "onnx-int8", onnx_dir)
    assert isinstance(built, OnnxEncoder)
    return built


def test_the_fp32_export_gives_pytorchs_vectors_on_padded_batches_of_any_length(
    torch_encoder: Encoder, onnx_fp32: OnnxEncoder
) -> None:
    expected = torch_encoder.encode(TEXTS)
    for got in (
        onnx_fp32.encode(TEXTS),
        np.concatenate([onnx_fp32.encode([t]) for t in TEXTS]),
        onnx_fp32.encode(TEXTS, threads=1),
    ):
        assert got.dtype == np.float32 and got.shape == expected.shape
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
        assert float((got * expected).sum(axis=1).min()) > 1 - 1e-5


def test_int8_vectors_stay_close_to_fp32(torch_encoder: Encoder, onnx_int8: OnnxEncoder) -> None:
    expected = torch_encoder.encode(TEXTS)
    got = onnx_int8.encode(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosine = (got * expected).sum(axis=1)
    # (int8 kernels differ by CPU: with or without VNNI; the failure names the CPU)
    assert cosine.min() > 0.97 and cosine.mean() > 0.985, (cosine, detect_cpu().describe())
    # ... and still mean what fp32 means: each text is nearest its own fp32 vector.
    assert ((got @ expected.T).argmax(axis=1) == np.arange(len(TEXTS))).all()


def test_the_model_files_are_made_once_and_their_vectors_kept_apart(
    torch_encoder: Encoder, onnx_fp32: OnnxEncoder, onnx_int8: OnnxEncoder, onnx_dir: Path
) -> None:
    encoder = torch_encoder
    fp32, int8 = model_file(onnx_dir, encoder.model_dir, False), model_file(onnx_dir, encoder.model_dir, True)
    assert onnx_fp32.model_path == fp32 and onnx_int8.model_path == int8
    assert int8.stat().st_size < fp32.stat().st_size
    made = (fp32.stat().st_mtime_ns, int8.stat().st_mtime_ns)
    assert prepared_model(encoder.model_dir, onnx_dir, True) == int8
    assert (fp32.stat().st_mtime_ns, int8.stat().st_mtime_ns) == made  # found, not made again
    assert not [p for p in fp32.parent.iterdir() if p.name.endswith(".partial")]
    fingerprints = {encoder.fingerprint, onnx_fp32.fingerprint, onnx_int8.fingerprint}
    assert len(fingerprints) == 3 and encoder.fingerprint == encoder_fingerprint(encoder.model_dir)


def test_an_unknown_backend_is_refused(torch_encoder: Encoder, onnx_dir: Path) -> None:
    encoder = torch_encoder
    with pytest.raises(ValueError, match="onnx-int8"):
        load_encoder(encoder.model_dir, "tensorrt", onnx_dir)


@pytest.mark.parametrize("cores", [1, 2, 8])
def test_a_bulk_job_shares_the_cores_only_with_enough_forwards(
    onnx_int8: OnnxEncoder, cores: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedding, "encoder_threads", lambda: cores)
    assert onnx_int8._parallel_batches(2 * cores, None) == (cores if cores > 1 else 1)
    assert onnx_int8._parallel_batches(2 * cores - 1, None) == 1
    assert onnx_int8._parallel_batches(2 * cores, 2) == 1  # a server lane: one forward, its threads


def test_a_bulk_job_runs_forwards_side_by_side_with_the_same_vectors(
    onnx_int8: OnnxEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedding, "encoder_threads", lambda: 2)  # side by side on any machine, one core too
    small_batches = OnnxEncoder(onnx_int8.model_dir, onnx_int8.model_path, True, batch_size=2)
    texts = [f"{t} ({i})" for i, t in enumerate(TEXTS * 4)]
    assert small_batches._parallel_batches(len(texts), None) == 2
    done: list[int] = []
    side_by_side = small_batches.encode(texts, progress=done.append)
    one_at_a_time = small_batches.encode(texts, threads=1)
    np.testing.assert_allclose(side_by_side, one_at_a_time, atol=1e-6)
    assert sum(done) == len(texts)


def test_an_int8_vector_does_not_depend_on_the_texts_beside_it(onnx_int8: OnnxEncoder) -> None:
    """Dynamic quantisation scales by the whole input tensor: int8 embeds each text alone, so a prompt's
    vector is the same in any batch (a batched forward moved it to cosine ~0.97)."""
    alone = onnx_int8.encode([TEXTS[0]])
    for beside in (TEXTS, TEXTS[::-1] + TEXTS, [TEXTS[4], TEXTS[0]]):
        row = beside.index(TEXTS[0])
        np.testing.assert_allclose(onnx_int8.encode(beside)[row], alone[0], atol=1e-6)
        np.testing.assert_allclose(onnx_int8.encode(beside, threads=1)[row], alone[0], atol=1e-6)
