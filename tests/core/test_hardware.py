"""The CPU flags that choose encoder backends: read from /proc/cpuinfo's text, hidden by setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

import movierec.hardware as hardware
from movierec.hardware import (
    BF16_FLAGS,
    DECIDING_FLAGS,
    CpuInfo,
    detect_cpu,
    parse_cpuinfo,
    parse_flag_list,
    usable_cores,
)
from movierec.settings import Settings, load_settings

XEON_WITHOUT_BF16 = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz
flags\t\t: fpu sse sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl avx512_vnni avx512_vbmi2 avx512ifma

processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz
flags\t\t: fpu sse sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl avx512_vnni avx512_vbmi2 avx512ifma
"""
SAPPHIRE_RAPIDS = (
    "model name\t: Intel(R) Xeon(R) Platinum 8488C\n"
    "flags\t\t: avx2 avx512f avx512_vnni avx_vnni avx512_bf16 amx_bf16 amx_tile amx_int8\n"
)


def test_the_deciding_flags_and_the_model_are_read_from_cpuinfo() -> None:
    model, flags = parse_cpuinfo(XEON_WITHOUT_BF16)
    assert model == "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz"
    assert flags == {"avx2", "avx512f", "avx512_vnni"}  # the others are not deciding flags
    assert not CpuInfo(model, flags).native_bf16
    model, flags = parse_cpuinfo(SAPPHIRE_RAPIDS)
    assert flags == set(DECIDING_FLAGS) and CpuInfo(model, flags).native_bf16
    assert CpuInfo("only AMX", frozenset({"amx_bf16", "amx_tile"})).native_bf16
    assert parse_cpuinfo("")[0]  # no model line: still a name (the platform's)


def test_flags_turned_off_are_absent_and_named() -> None:
    cpu = detect_cpu(["avx512_bf16", "amx_bf16"])
    assert not cpu.native_bf16 and not cpu.flags & BF16_FLAGS
    assert cpu.hidden == detect_cpu().flags & BF16_FLAGS  # only flags the CPU has are "hidden"
    assert detect_cpu().flags == cpu.flags | cpu.hidden
    described = CpuInfo("X", frozenset({"avx2"}), frozenset({"avx512_bf16"})).describe()
    assert described == "X: avx2 (off by setting: avx512_bf16)"
    assert CpuInfo("Y", frozenset()).describe().startswith("Y: none of avx2")


def test_the_setting_takes_known_flags_only() -> None:
    assert Settings(cpu_flags_off=" AVX512_bf16, amx_bf16 ,").encoder.cpu_flags_off == "amx_bf16,avx512_bf16"
    assert Settings().encoder.cpu_flags_off == "" and parse_flag_list("") == ()
    with pytest.raises(ValidationError, match="avx512bf16"):
        Settings(cpu_flags_off="avx512bf16")
    with pytest.raises(ValueError, match="cpu_flags_off.*unknown CPU flag avx512bf16"):
        load_settings(cpu_flags_off="avx512bf16")


def test_without_proc_cpuinfo_the_flags_come_from_pytorch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import torch

    monkeypatch.setattr(hardware, "CPUINFO", tmp_path / "no-cpuinfo")
    hardware._read_cpu.cache_clear()
    try:
        cpu = detect_cpu()
        assert cpu.source == "torch" and cpu.model
        assert cpu.native_bf16 == bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
        assert ("avx2" in cpu.flags) == bool(torch.cpu._is_avx2_supported())
    finally:
        monkeypatch.undo()
        hardware._read_cpu.cache_clear()
    assert detect_cpu().source == "/proc/cpuinfo"  # read again, from the file, once the test is over


@pytest.mark.parametrize(
    "affinity, cpu_max, expected",
    [
        (range(8), "max 100000\n", 8),  # no quota: the affinity
        (range(8), "200000 100000\n", 2),  # a 2-CPU container on an 8-core host
        (range(2), "800000 100000\n", 2),  # the affinity is smaller than the quota
        (range(8), "50000 100000\n", 1),  # half a CPU: still one thread
        (range(4), None, 4),  # no cgroup v2 file
    ],
)
def test_usable_cores_follow_the_affinity_and_the_cgroup_quota(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, affinity: range, cpu_max: str | None, expected: int
) -> None:
    monkeypatch.setattr(hardware.os, "sched_getaffinity", lambda pid: set(affinity))
    path = tmp_path / "cpu.max"
    if cpu_max is not None:
        path.write_text(cpu_max)
    monkeypatch.setattr(hardware, "CGROUP_CPU_MAX", path)
    assert usable_cores() == expected
