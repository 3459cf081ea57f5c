"""PyTorch under bf16 autocast (the indexer's default for the catalogue) and its fallback.

Both paths run on every machine: the bf16 encoder is built directly (native kernels where the CPU
has them, PyTorch's emulation elsewhere: the same arithmetic, slower), and the choice between
them is made for a CPU with and one without native bf16, whatever this one is. Which of the two
this machine takes is checked against PyTorch's own view of the CPU.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

import movierec.embedding as embedding
from movierec.embedding import (
    Encoder,
    encoder_fingerprint,
    load_encoder,
    resolve_backend,
    settings_backend,
    settings_encoder,
)
from movierec.hardware import CpuInfo, detect_cpu
from movierec.settings import Settings

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
BATCH = [f"{t} ({i})" for i, t in enumerate(TEXTS * 3)]
WITH_BF16 = CpuInfo("a CPU with AVX512-BF16", frozenset({"avx2", "avx512f", "avx512_vnni", "avx512_bf16"}))
WITHOUT_BF16 = CpuInfo("a CPU with AVX512 but no bf16", frozenset({"avx2", "avx512f", "avx512_vnni"}))
AVX2_ONLY = CpuInfo("an AVX2 CPU", frozenset({"avx2"}))


@pytest.fixture(scope="module")
def bf16(torch_encoder: Encoder) -> Encoder:
    """The bf16 encoder itself, on this CPU (natively or emulated)."""
    return Encoder(torch_encoder.model_dir, batch_size=4, bf16=True)


def test_bf16_vectors_stay_within_rounding_of_fp32(torch_encoder: Encoder, bf16: Encoder) -> None:
    assert bf16.backend == "torch-bf16" and bf16.bf16
    expected = torch_encoder.encode(BATCH)
    done: list[int] = []
    for got in (
        bf16.encode(BATCH, progress=done.append),
        bf16.encode(BATCH, threads=1),
        np.concatenate([bf16.encode([t]) for t in BATCH]),
    ):
        assert got.dtype == np.float32 and got.shape == expected.shape
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
        cosine = (got * expected).sum(axis=1)
        # bf16 keeps 8 bits of mantissa in the products, sums in fp32: far closer than int8 (~0.99)
        assert cosine.min() > 0.9995, (cosine, detect_cpu().describe())
    assert sum(done) == len(BATCH)


@pytest.mark.parametrize("cores", [1, 2, 8])
def test_bulk_forwards_run_side_by_side_and_a_call_gets_the_configured_threads(
    bf16: Encoder, torch_encoder: Encoder, cores: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    monkeypatch.setattr(embedding, "encoder_threads", lambda: cores)
    for encoder in (bf16, torch_encoder):  # both PyTorch modes run bulk forwards side by side
        side_by_side = cores if cores > 1 else 1
        assert encoder._parallel_batches(2 * cores, None) == side_by_side
        assert encoder._parallel_batches(2 * cores - 1, None) == 1  # too few forwards to share the cores
        assert encoder._parallel_batches(2 * cores, 2) == 1  # a caller that asks for threads keeps one forward
    before = torch.get_num_threads()
    try:
        bf16.encode(BATCH)
        bf16.encode(TEXTS[:2], threads=1)
        assert torch.get_num_threads() == 1
        bf16.encode(TEXTS[:2])  # no count asked: the configured one, not the last call's
        assert torch.get_num_threads() == cores
    finally:  # this worker's later tests keep the machine's count
        torch.set_num_threads(before)


def test_side_by_side_forwards_give_the_vectors_of_one_at_a_time(
    torch_encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = Encoder(torch_encoder.model_dir, batch_size=1)
    monkeypatch.setattr(embedding, "encoder_threads", lambda: 2)
    assert small._parallel_batches(len(BATCH), None) == 2
    np.testing.assert_allclose(small.encode(BATCH), torch_encoder.encode(BATCH), atol=1e-5)


def test_torch_bf16_runs_where_the_cpu_has_native_bf16_and_fp32_elsewhere() -> None:
    for cpu in (WITH_BF16, CpuInfo("an AMX CPU", frozenset({"avx512f", "amx_tile", "amx_bf16"}))):
        choice = resolve_backend("torch-bf16", cpu)
        assert (choice.backend, choice.reason) == ("torch-bf16", "")
    for cpu in (WITHOUT_BF16, AVX2_ONLY):
        choice = resolve_backend("torch-bf16", cpu)
        assert choice.backend == "torch"
        assert "no native bf16" in choice.reason and cpu.model in choice.reason and "avx512_bf16" in choice.reason
    for backend in ("torch", "onnx", "onnx-int8"):  # the others run as asked on any CPU
        assert resolve_backend(backend, AVX2_ONLY).backend == backend
    with pytest.raises(ValueError, match="tensorrt"):
        resolve_backend("tensorrt", WITH_BF16)


def test_without_native_bf16_the_encoder_is_fp32_torch_with_its_cache_key(
    torch_encoder: Encoder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="movierec.embedding"):
        built = load_encoder(torch_encoder.model_dir, "torch-bf16", tmp_path, batch_size=4, cpu=WITHOUT_BF16)
    assert isinstance(built, Encoder) and built.backend == "torch" and not built.bf16
    assert built.fingerprint == torch_encoder.fingerprint == encoder_fingerprint(built.model_dir, "torch")
    assert any("no native bf16" in r.getMessage() and WITHOUT_BF16.model in r.getMessage() for r in caplog.records)
    np.testing.assert_allclose(built.encode(TEXTS), torch_encoder.encode(TEXTS), atol=1e-5)
    with_bf16 = load_encoder(torch_encoder.model_dir, "torch-bf16", tmp_path, batch_size=4, cpu=WITH_BF16)
    assert (
        with_bf16.backend == "torch-bf16"
        and with_bf16.fingerprint == encoder_fingerprint(built.model_dir, "torch-bf16") != torch_encoder.fingerprint
    )


def test_the_settings_choose_per_cpu_and_the_lazy_encoder_knows_its_cache_key_before_loading() -> None:
    """The indexer keys its embedding cache by the lazy encoder's fingerprint: it must be the backend
    that will run, not the one asked for."""
    both = {"encoder_backend": "onnx", "index_encoder_backend": "torch-bf16", "onnx_dir": Path("unused")}
    model_dir = Settings().encoder.model_dir
    without = settings_encoder(Settings(**both, cpu_flags_off="avx512_bf16,amx_bf16"), lazy=True, catalogue=True)
    assert without.backend == "torch" and without.fingerprint == encoder_fingerprint(model_dir, "torch")
    assert "avx512_bf16" in without.choice.cpu.hidden or "avx512_bf16" not in detect_cpu().flags
    here = settings_encoder(Settings(**both), lazy=True, catalogue=True)
    expected = "torch-bf16" if detect_cpu().native_bf16 else "torch"
    assert here.backend == expected and here.fingerprint == encoder_fingerprint(model_dir, expected)
    assert settings_encoder(Settings(**both), lazy=True).backend == "onnx"  # prompts: the server's backend
    off = Settings(**both, cpu_flags_off="avx512_bf16,amx_bf16")
    assert (settings_backend(off, catalogue=True).backend, settings_backend(off).backend) == ("torch", "onnx")
    assert settings_backend(Settings(**both), catalogue=True).backend == expected


def test_this_machines_choice_follows_what_pytorch_sees_of_the_cpu() -> None:
    """The real hardware: /proc/cpuinfo's flags and PyTorch's CPU checks agree on native bf16, and the
    default choice follows them (torch-bf16 on such a CPU, torch on any other)."""
    import torch

    cpu = detect_cpu()
    pytorch_says = bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    assert cpu.native_bf16 == pytorch_says, cpu.describe()
    assert resolve_backend("torch-bf16").backend == ("torch-bf16" if pytorch_says else "torch")
