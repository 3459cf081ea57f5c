"""`movierec-bench-embedding`: the indexer's embedding step in process and on Ray, measured.

The texts are the real catalogue's (REAL_DATA_DIR), embedded with no cache by fp32 PyTorch: in
process (one forward at a time on every core's threads; `movierec-index` itself runs its
`index_encoder_backend` with forwards side by side), and on a local Ray instance with 1 and 2
actors of one torch thread each. Each setting runs `--rounds` times, alternating, so a slow
spell of the machine does not fall on one setting. A job's wall time includes starting Ray and the
actors loading the model; the marginal throughput (texts per second once they run) subtracts a
tiny job's wall time, and is what a large catalogue sees. The projection for a catalogue of
`--project` texts on N workers takes one worker's marginal rate N times, at the efficiency two
workers reached here (their rate over twice one's, at most 1).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

SMALL_JOB = 16


def _texts(data_dir: Path, n: int) -> list[str]:
    from movierec.indexer.catalogue import load_catalogue

    catalogue = load_catalogue(data_dir / "tmdb_5000_movies.csv", data_dir / "tmdb_5000_credits.csv")
    texts = [e.text for e in catalogue.entries]
    return (texts * (n // len(texts) + 1))[:n]


def _timed(encode: Any, texts: list[str]) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    vectors = encode(texts)
    return time.perf_counter() - started, vectors


def run(data_dir: Path, n: int, rounds: int, project: int, workers_projected: tuple[int, ...]) -> dict[str, Any]:
    from tqdm import tqdm

    from movierec.embedding import Encoder
    from movierec.hardware import usable_cores
    from movierec.indexer.ray_embedding import RayEncoder
    from movierec.runtime import tune_process
    from movierec.settings import load_settings

    settings = load_settings(None)
    threads = tune_process(settings.encoder.torch_threads)
    texts = _texts(data_dir, n)
    small = texts[:SMALL_JOB]
    in_process = Encoder(
        settings.encoder.model_dir,
        settings.encoder.max_seq_length,
        settings.encoder.embed_batch_size,
        settings.encoder.embed_batch_tokens,
    )
    encoders: dict[str, Any] = {
        f"in process ({threads} torch threads)": lambda t: in_process.encode(t, threads=threads),
        "Ray, 1 worker": RayEncoder(
            settings.encoder.model_dir,
            settings.encoder.max_seq_length,
            settings.encoder.embed_batch_size,
            settings.encoder.embed_batch_tokens,
            workers=1,
        ).encode,
        "Ray, 2 workers": RayEncoder(
            settings.encoder.model_dir,
            settings.encoder.max_seq_length,
            settings.encoder.embed_batch_size,
            settings.encoder.embed_batch_tokens,
            workers=2,
        ).encode,
    }
    walls: dict[str, list[float]] = {name: [] for name in encoders}
    smalls: dict[str, list[float]] = {name: [] for name in encoders}
    reference: np.ndarray | None = None
    worst_cosine: dict[str, float] = {}
    with tqdm(total=rounds * len(encoders) * 2, desc="embedding jobs") as bar:
        for _ in range(rounds):
            for name, encode in encoders.items():
                seconds, _ = _timed(encode, small)
                smalls[name].append(seconds)
                bar.update()
                seconds, vectors = _timed(encode, texts)
                walls[name].append(seconds)
                bar.update()
                if reference is None:
                    reference = vectors
                cosine = float((vectors * reference).sum(axis=1).min())
                worst_cosine[name] = min(worst_cosine.get(name, 1.0), cosine)
    rows: dict[str, dict[str, Any]] = {}
    marginal_rate: dict[str, float] = {}
    for name in encoders:
        wall = statistics.median(walls[name])
        marginal = (len(texts) - len(small)) / max(1e-9, wall - statistics.median(smalls[name]))
        marginal_rate[name] = marginal
        rows[name] = {
            "wall_s": walls[name],
            "small_job_s": smalls[name],
            "wall_median_s": wall,
            "texts_per_s_job": len(texts) / wall,
            "texts_per_s_marginal": marginal,
            "worst_cosine_to_in_process": worst_cosine[name],
        }
    one, two = marginal_rate["Ray, 1 worker"], marginal_rate["Ray, 2 workers"]
    speedup = two / one
    # Each worker at one worker's rate, times the efficiency measured with two (at most 1).
    efficiency = min(1.0, speedup / 2)
    projection = {str(w): project / (w * one * efficiency) / 3600 for w in workers_projected}
    return {
        "texts": len(texts),
        "small_job_texts": len(small),
        "rounds": rounds,
        "cores": usable_cores(),
        "rows": rows,
        "ray_2_over_1": speedup,
        "ray_2_over_1_per_round": [
            one_s / two_s for one_s, two_s in zip(walls["Ray, 1 worker"], walls["Ray, 2 workers"])
        ],
        "scaling_efficiency": efficiency,
        "projected_texts": project,
        "projected_hours": projection,
    }


def write_report(report: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench-embedding.json").write_text(json.dumps(report, indent=2))
    lines = [
        "# Embedding on Ray",
        "",
        f"Written by `make bench-scale` (`movierec-bench-embedding`): {report['texts']} real catalogue texts, "
        f"no cache, {report['rounds']} alternating rounds on this {report['cores']}-core machine. Wall time "
        f"includes starting Ray and loading the model in each actor; the marginal rate subtracts a "
        f"{report['small_job_texts']}-text job's wall time.",
        "",
        "| setting | wall time per job, median (each round) | texts/s, whole job | texts/s, marginal | "
        "worst cosine to the in-process vectors |",
        "|---|---|---|---|---|",
    ]
    for name, r in report["rows"].items():
        rounds = ", ".join(f"{s:.1f}" for s in r["wall_s"])
        lines.append(
            f"| {name} | {r['wall_median_s']:.1f} s ({rounds}) | {r['texts_per_s_job']:.1f} | "
            f"{r['texts_per_s_marginal']:.1f} | {r['worst_cosine_to_in_process']:.7f} |"
        )
    per_round = ", ".join(f"{x:.2f}" for x in report["ray_2_over_1_per_round"])
    met = report["ray_2_over_1"] >= 1.6
    lines += [
        "",
        f"**2 workers / 1 worker (marginal throughput): {report['ray_2_over_1']:.3f}** "
        f"(target >= 1.6: {'met' if met else 'NOT met'}; whole-job ratio per round: {per_round}).",
        "",
        f"Projected time for {report['projected_texts']:,} texts on N workers: N x one worker's marginal rate "
        f"x the efficiency two reached here ({report['scaling_efficiency']:.2f}); model loading and Ray's "
        "start are left out (seconds, once per job):",
        "",
        "| workers | hours |",
        "|---|---|",
    ]
    lines += [f"| {w} | {h:.1f} |" for w, h in report["projected_hours"].items()]
    lines += ["", "![bench-embedding.png](bench-embedding.png)", ""]
    path = out / "bench-embedding.md"
    path.write_text("\n".join(lines))
    _plot(report, out / "bench-embedding.png")
    return path


def _plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["rows"])
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for i, name in enumerate(names):
        r = report["rows"][name]
        ax.barh(i, r["texts_per_s_marginal"], color="#1f77b4")
        ax.scatter(
            [report["texts"] / w for w in r["wall_s"]],
            [i] * len(r["wall_s"]),
            color="#d62728",
            s=12,
            zorder=3,
            label="whole job, each round" if i == 0 else None,
        )
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("texts per second (bars: marginal)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="movierec-bench-embedding", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("REAL_DATA_DIR", "../shared/data/seed")))
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--project", type=int, default=1_000_000, help="catalogue size to project to")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    report = run(args.data_dir, args.texts, args.rounds, args.project, (1, 2, 4, 8, 16, 32))
    path = write_report(report, args.out)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
