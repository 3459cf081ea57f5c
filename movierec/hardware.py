"""What this CPU runs natively, as far as choosing an encoder backend needs to know.

The flags come from /proc/cpuinfo on Linux (the kernel's names: `avx512_bf16`, `amx_tile`, ...),
elsewhere from PyTorch's own CPU checks. Reading the file needs no torch, so an indexer whose
texts are all cached still knows which backend its cache is keyed by without loading the model.

`flags_off` hides flags the CPU has (the `cpu_flags_off` setting), so a machine can run, and its
tests can check, what a CPU without them gets: `avx512_bf16,amx_bf16` makes this process choose
as a CPU without native bf16 does.
"""

from __future__ import annotations

import functools
import os
import platform
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# The flags that decide or explain a backend's speed, in the kernel's spelling: AVX2 and AVX512
# (fp32 kernels), VNNI (int8 dot products), AVX512-BF16 and AMX (native bf16 and int8 tiles).
DECIDING_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")
# Either runs bf16 matrix products natively; without both, PyTorch emulates bf16 (slower than fp32).
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
CPUINFO = Path("/proc/cpuinfo")
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


@dataclass(frozen=True)
class CpuInfo:
    """The CPU's model name and which of DECIDING_FLAGS it has (after any hidden ones are removed)."""

    model: str
    flags: frozenset[str]
    hidden: frozenset[str] = frozenset()  # flags the CPU has that were turned off by setting
    source: str = "/proc/cpuinfo"

    @property
    def native_bf16(self) -> bool:
        """Whether bf16 matrix products run natively (AVX512-BF16 or AMX), not emulated."""
        return bool(self.flags & BF16_FLAGS)

    def describe(self) -> str:
        """One line for logs and reports: 'AMD EPYC: avx2 avx512f avx512_bf16 (off by setting: ...)'."""
        present = " ".join(f for f in DECIDING_FLAGS if f in self.flags) or "none of " + " ".join(DECIDING_FLAGS)
        hidden = f" (off by setting: {' '.join(sorted(self.hidden))})" if self.hidden else ""
        return f"{self.model}: {present}{hidden}"

    def as_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "flags": [f for f in DECIDING_FLAGS if f in self.flags],
            "flags_off": sorted(self.hidden),
            "native_bf16": self.native_bf16,
            "source": self.source,
        }


def parse_cpuinfo(text: str) -> tuple[str, frozenset[str]]:
    """(model name, the deciding flags) from the text of /proc/cpuinfo; the first processor's."""
    model, flags = "", frozenset[str]()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:  # x86 (ARM's "Features" name none of DECIDING_FLAGS: no bf16 here)
            flags = frozenset(value.split()) & frozenset(DECIDING_FLAGS)
    return model or platform.processor() or platform.machine(), flags


@functools.cache
def _read_cpu() -> tuple[str, frozenset[str], str]:
    """(model, the deciding flags, where they were read): once per process."""
    try:
        model, flags = parse_cpuinfo(CPUINFO.read_text(encoding="utf-8", errors="replace"))
        return model, flags, str(CPUINFO)
    except OSError:
        return (platform.processor() or platform.machine(), _torch_flags(), "torch")


def _torch_flags() -> frozenset[str]:
    """The deciding flags as PyTorch's CPU checks see them (where there is no /proc/cpuinfo)."""
    import torch

    checks = {
        "avx2": "_is_avx2_supported",
        "avx512f": "_is_avx512_supported",
        "avx512_vnni": "_is_avx512_vnni_supported",
        "avx512_bf16": "_is_avx512_bf16_supported",
        "amx_tile": "_is_amx_tile_supported",
    }
    found = set()
    for flag, name in checks.items():
        try:
            if getattr(torch.cpu, name)():
                found.add(flag)
        except (AttributeError, RuntimeError):
            continue
    if "amx_tile" in found:  # PyTorch asks for AMX as a whole; its tiles come with bf16
        found.add("amx_bf16")
    return frozenset(found)


def detect_cpu(flags_off: Iterable[str] = ()) -> CpuInfo:
    """This machine's CPU, with `flags_off` treated as absent."""
    model, flags, source = _read_cpu()
    off = frozenset(f.strip() for f in flags_off if f.strip())
    return CpuInfo(model, flags - off, flags & off, source)


def parse_flag_list(value: str) -> tuple[str, ...]:
    """'avx512_bf16, amx_bf16' -> ('amx_bf16', 'avx512_bf16'); ValueError naming an unknown flag."""
    flags = sorted({f.strip().lower() for f in value.split(",") if f.strip()})
    unknown = [f for f in flags if f not in DECIDING_FLAGS]
    if unknown:
        raise ValueError(f"unknown CPU flag {', '.join(unknown)}: expected some of {', '.join(DECIDING_FLAGS)}")
    return tuple(flags)


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by the CPU quota of the cgroup v2 it
    sees at the root (a container limited to 2 CPUs on a 64-core host gets 2, where os.cpu_count() says
    64). A cgroup v1 quota, or one on a nested cgroup without a cgroup namespace, is not read."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)
