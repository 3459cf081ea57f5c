"""`movierec-bench-ease` at small sizes: every step runs and the report is complete (seconds).

Not a timed test: `make bench-scale` runs the real sizes and the quality runs on real ratings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_the_ease_benchmark_runs_end_to_end_at_small_sizes(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    done = subprocess.run(
        [
            Path(sys.executable).parent / "movierec-bench-ease",
            "--items",
            "400,1500",
            "--users",
            "200,600",
            "--ratings-per-user",
            "20",
            "--cap",
            "500",
            "--real-ratings",
            "",
            "--out",
            out,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads((out / "bench-ease.json").read_text())["rows"]
    assert [(r["items"], r["max_items"]) for r in rows] == [(400, 0), (1500, 0), (1500, 500)]
    whole, capped = rows[1], rows[2]
    assert capped["covered"] == 500 and whole["covered"] == whole["rated_items"]
    assert capped["tail"] == capped["rated_items"] - 500 > 0 and capped["tail_weights_mb"] > 0
    text = (out / "bench-ease.md").read_text()
    assert "| 1,500 | 600 |" in text and "The tail beyond the cap" in text
    assert (out / "bench-ease.png").stat().st_size > 5_000
