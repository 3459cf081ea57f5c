"""`movierec-bench-replicas` at small durations: every step runs and the report is complete.

Not a timed test (the measurement is `make bench-scale`); it keeps the benchmark from breaking
silently and checks what does not depend on timing: both replicas answer their share of a balanced
load, and every timed rating reaches the other replica.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from movierec.server.replicas import replica_threads
from movierec.settings import Settings


@pytest.mark.slow
def test_the_replica_benchmark_runs_end_to_end(tmp_path: Path, sample_settings: Settings) -> None:
    out = tmp_path / "reports"
    done = subprocess.run(
        [
            Path(sys.executable).parent / "movierec-bench-replicas",
            "--index-dir",
            sample_settings.index.index_dir,
            "--work-dir",
            tmp_path / "work",
            "--clients",
            "4",
            "--seconds",
            "2",
            "--warmup",
            "0.5",
            "--trials",
            "6",
            "--skip-oversubscribed",
            "--out",
            out,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "bench-replicas.json").read_text())
    one, two = report["load"]
    assert (one["replicas"], two["replicas"]) == (1, 2)
    assert one["errors"] == {} and two["errors"] == {} and one["requests"] > 0 and two["requests"] > 0
    assert one["share"] == [1.0]
    assert len(two["share"]) == 2 and min(two["share"]) > 0.25, two["share"]  # round_robin spreads the calls
    for key in ("visibility_idle", "visibility_loaded"):
        assert report[key]["ratings"] >= 3 and report[key]["max"] < 10_000
    text = (out / "bench-replicas.md").read_text()
    split = replica_threads(2, 0)  # the cores split between the pair, as `make serve-replicas` does
    assert text.count("\n| 1 | default |") == 1 and text.count(f"\n| 2 | {split} |") == 1
    assert (out / "bench-replicas.png").stat().st_size > 5_000
