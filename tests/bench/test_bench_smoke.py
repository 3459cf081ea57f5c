"""The benchmark's smoke run: every step of `make bench` for a few seconds on the sample data.

Not a timed test: it checks that the benchmark still runs end to end and writes a complete
report, so it cannot silently break. The measured numbers are not asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    """Run as a CPU without native bf16 (on any machine): the report must say so, and that the
    indexer's torch-bf16 ran as fp32 torch."""
    from movierec.hardware import BF16_FLAGS, detect_cpu

    out = tmp_path / "reports"
    done = subprocess.run(
        [
            Path(sys.executable).parent / "movierec-bench",
            "--smoke",
            "--data-dir",
            ROOT / "data" / "sample",
            "--work-dir",
            tmp_path / "work",
            "--out",
            out,
            "--ratings",
            "50",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={
            **os.environ,
            "MOVIEREC_CPU_FLAGS_OFF": ",".join(sorted(BF16_FLAGS)),
            "MOVIEREC_INDEX_ENCODER_BACKEND": "torch-bf16",
        },
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "bench.json").read_text())
    assert report["smoke"] is True
    for run in ("single", "group5", "short64", "mixed64", "taste64", "naive64"):
        assert report["serving"][run]["requests"] > 0 and report["serving"][run]["errors"] == {}, run
    assert report["serving"]["short64"]["clients"] == 64
    assert any(t["target"].startswith("group of 5") for t in report["targets"])
    assert report["indexing"]["cold_build_s"] > 0 and report["indexing"]["reindex_s"] > 0
    assert report["floors_before"]["single_ms"] > 0 and report["floors_after"]["batch64_per_s"] > 0
    assert report["server_rss_idle_mb"] > 0 and report["rss_samples"]
    assert len(report["targets"]) == 16 and all(isinstance(t["met"], bool) for t in report["targets"])
    http = report["serving"]["http1"]  # each request over gRPC and over HTTP/JSON, one client
    assert http["requests"] > 0 and http["errors"] == {} and http["http"]["p50"] > 0
    assert http["http_overhead_p50_ms"] == http["http"]["p50"] - http["p50"]
    assert any(t["target"].startswith("HTTP/JSON edge") for t in report["targets"])
    conversation = report["conversation"]  # a 20-turn conversation against a single prompt, in process
    assert conversation["turns"] == 20 and conversation["single_p50_ms"] > 0 and conversation["ratio"] > 0
    assert any(t["target"].startswith("a 20-turn conversation") for t in report["targets"])
    learned = report["learned"]["serving"]  # the sample index has a learned ranker: its stage is measured
    assert learned["second_phase_ms"] > 0 and learned["forward_ms"] > 0 and learned["requests"] == 64
    overloaded = report["overload"]  # open loop at 2x and 10x the 64-client throughput
    assert [r["multiple"] for r in overloaded] == [2.0, 10.0] and all(r["offered_per_s"] > 0 for r in overloaded)
    assert all(set(r["by_code"]) <= {"OK", "RESOURCE_EXHAUSTED", "CANCELLED"} for r in overloaded), overloaded
    ceiling = report["refusal_ceiling"]  # a server admitting two calls: nearly every call is refused
    assert ceiling["refused_per_s"] > 0 and set(ceiling["by_code"]) <= {"OK", "RESOURCE_EXHAUSTED", "CANCELLED"}
    assert report["understanding"]["requests"] > 0 and report["understanding"]["p50_ms"] > 0
    cache = report["prompt_cache"]  # a second server with the cache on, prompts with Zipf repeats
    for run in ("single", "short64"):
        assert cache[run]["requests"] > 0 and cache[run]["errors"] == {} and 0 < cache[run]["repeat_share"] < 1
    assert report["settings"]["encoder_backend"] in ("torch", "torch-bf16", "onnx", "onnx-int8")
    assert report["settings"]["index_encoder_backend"] in ("torch", "torch-bf16", "onnx", "onnx-int8")
    rounds = report["rounds"]  # every ratio run and build repeated, each round between its own floors
    assert len(rounds) == 2 and all(
        r["indexing"]["cold_build_s"] > 0
        and r["serving"]["short64"]["requests"] > 0
        and r["floors_after"]["batch64_per_s"] > 0
        for r in rounds
    )
    by_name = {t["target"]: t for t in report["targets"]}
    cold = by_name["cold build of the data (s)"]
    assert cold["runs"] == [r["indexing"]["cold_build_s"] for r in rounds]
    assert min(cold["runs"]) <= cold["value"] <= max(cold["runs"])
    cpu = report["machine"]["cpu"]  # the hardware, and what each stage asked for and ran
    assert cpu["native_bf16"] is False and cpu["flags_off"] == sorted(detect_cpu().flags & BF16_FLAGS)
    assert cpu["model"] == detect_cpu().model and report["machine"]["cpus"] >= 1
    stages = {b["stage"].split(" (")[0]: (b["asked"], b["ran"]) for b in report["backends"]}
    assert stages["cold builds"] == stages["the served index's catalogue"] == ("torch-bf16", "torch")
    assert (
        stages["the server's prompts"]
        == stages["in-process stages and ablations"]
        == (report["settings"]["encoder_backend"],) * 2
    )  # onnx or torch: no CPU-dependent choice
    assert stages["floors"] == ("torch", "torch")
    assert all(r["indexing"]["backend"]["ran"] == "torch" for r in report["rounds"])
    text = (out / "bench.md").read_text()
    assert "Native bf16 (AVX512-BF16 or AMX): **no**, so a `torch-bf16` asked for runs as fp32 `torch`" in text
    assert "| cold builds (the catalogue, `movierec-index`) | `torch-bf16` | `torch` |" in text
    assert "### The rounds" in text and "spread over 2 rounds" in text
    for section in (
        "## Hardware and encoder backends",
        "## Targets",
        "## Floors",
        "## Serving",
        "## Indexing",
        "## Memory",
        "naive peer",
        "### The HTTP/JSON edge",
        "## The prompt cache",
        "## The learned ranker",
        "## Overload and load shedding",
        "Refusal ceiling",
    ):
        assert section in text
    assert (out / "bench.png").stat().st_size > 10_000

    # The A/B tool on the index the run built: the same server under two names, one short round.
    serve = Path(sys.executable).parent / "movierec-serve"
    compared = tmp_path / "compare.json"
    done = subprocess.run(
        [
            Path(sys.executable).parent / "movierec-bench-compare",
            "--rounds",
            "1",
            "--seconds",
            "1",
            "--single-seconds",
            "1",
            "--out",
            compared,
            "--a",
            f"a={serve}:{tmp_path / 'work' / 'index'}",
            "--a",
            f"b={serve}:{tmp_path / 'work' / 'index'}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    means = json.loads(compared.read_text())["means"]
    assert set(means) == {"a", "b"}
    assert all(
        m["requests_per_s"] > 0 and m["server_cpu_ms_per_request"] > 0 and m["p50_1_client_ms"] > 0
        for m in means.values()
    )
    assert "| a |" in done.stdout and "| b |" in done.stdout
