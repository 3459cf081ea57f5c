"""PyTorch under bf16 autocast (the indexer's default for the catalogue): close to fp32 PyTorch, bulk
jobs side by side, its own embedding cache key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from movierec.embedding import Encoder, cpu_has_bf16, encoder_fingerprint, load_encoder, settings_encoder
from movierec.runtime import encoder_threads
from movierec.settings import Settings

TEXTS = ["a thrilling action flick", "romance, nothing scary", "something like Super Troopers but not so dumb",
         "Hi! We want a comedy for the kids tonight, nothing scary, maybe animated, under two hours please",
         "The Dark Knight (2008). Batman raises the stakes in his war on crime. Action, Crime, Drama. "
         "Keywords: dc comics, joker, vigilante. Directed by Christopher Nolan. With Christian Bale, "
         "Heath Ledger, Aaron Eckhart." * 3, "x"]
BATCH = [f"{t} ({i})" for i, t in enumerate(TEXTS * 3)]


@pytest.fixture(scope="module")
def bf16(torch_encoder: Encoder, tmp_path_factory: pytest.TempPathFactory) -> Encoder:
    built = load_encoder(torch_encoder.model_dir, "torch-bf16", tmp_path_factory.mktemp("onnx"), batch_size=4)
    assert isinstance(built, Encoder) and built.backend == "torch-bf16"
    assert built.bf16 == cpu_has_bf16()  # without native kernels it runs in fp32
    return built


def test_bf16_vectors_stay_within_rounding_of_fp32(torch_encoder: Encoder, bf16: Encoder) -> None:
    expected = torch_encoder.encode(BATCH)
    done: list[int] = []
    for got in (bf16.encode(BATCH, progress=done.append), bf16.encode(BATCH, threads=1),
                np.concatenate([bf16.encode([t]) for t in BATCH])):
        assert got.dtype == np.float32 and got.shape == expected.shape
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
        cosine = (got * expected).sum(axis=1)
        # bf16 keeps 8 bits of mantissa in the products, sums in fp32: far closer than int8 (~0.99)
        assert cosine.min() > 0.9995, cosine
    assert sum(done) == len(BATCH)


def test_bulk_forwards_run_side_by_side_and_a_call_gets_the_configured_threads(bf16: Encoder) -> None:
    import torch

    assert bf16._parallel_batches(12, None) == (encoder_threads() if encoder_threads() > 1 and bf16.bf16 else 1)
    assert bf16._parallel_batches(12, 2) == 1  # a caller that asks for threads keeps one forward
    bf16.encode(BATCH)
    bf16.encode(TEXTS[:2], threads=1)
    assert torch.get_num_threads() == 1
    bf16.encode(TEXTS[:2])  # no count asked: the configured one, not the last call's
    assert torch.get_num_threads() == encoder_threads()


def test_bf16_vectors_are_cached_apart_and_the_indexer_uses_its_own_backend(torch_encoder: Encoder,
                                                                            bf16: Encoder) -> None:
    assert bf16.fingerprint == encoder_fingerprint(bf16.model_dir, "torch-bf16") != torch_encoder.fingerprint
    settings = Settings(encoder_backend="onnx", index_encoder_backend="torch-bf16", onnx_dir=Path("unused"))
    assert settings_encoder(settings, lazy=True, catalogue=True).fingerprint == bf16.fingerprint
    assert settings_encoder(settings, lazy=True).backend == "onnx"
