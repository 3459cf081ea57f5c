"""`make bench-scale` at small sizes: every step runs and the report is complete (seconds, not minutes).

Not a timed test: the full run (1M movies) is `make bench-scale`; this keeps it from breaking
silently, as it once did when the ranking met users without ratings. No timing is asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from movierec.artifact import load_artifact
from movierec.settings import Settings


@pytest.mark.slow
def test_the_scale_benchmark_runs_end_to_end_at_small_sizes(tmp_path: Path, sample_settings: Settings) -> None:
    out = tmp_path / "reports"
    done = subprocess.run(
        [
            Path(sys.executable).parent / "movierec-bench-scale",
            "--index-dir",
            sample_settings.index.index_dir,
            "--movies",
            "20000",
            "--users",
            "5000",
            "--exact-max",
            "10000",
            "--repeats",
            "5",
            "--out",
            out,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "bench-scale.json").read_text())
    small, large = report["sizes"]
    base = load_artifact(sample_settings.index.index_dir)
    assert (small["movies"], small["users"]) == (len(base.movie_vectors), len(base.user_vectors))
    assert (large["movies"], large["users"]) == (20000, 5000)
    assert set(small) >= {"exact"} and set(large) >= {"exact", "approximate"}
    ivf = large["approximate"]["build"]["movies"]
    assert ivf["kind"] == "ivf" and 0 < ivf["nprobe"] <= ivf["lists"] and ivf["calibrated_on"] == "queries"
    assert 0.0 <= large["approximate"]["recall_at_100"] <= 1.0
    for row in (small["exact"], large["exact"], large["approximate"]):
        assert row["recommend_p50_ms"] > 0 and row["rank_p50_ms"] > 0
    text = (out / "bench-scale.md").read_text()
    assert text.count("\n| 20,000 | 5,000 |") == 2 and "IVF" in text
    assert (out / "bench-scale.png").stat().st_size > 5_000
