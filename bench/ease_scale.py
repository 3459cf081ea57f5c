"""`movierec-bench-ease`: the collaborative model's (EASE's) memory and time as the catalogue grows.

Synthetic ratings, seeded: users rate a Zipf-like share of the items (a few are rated by many, most
by few, as in MovieLens), about `--ratings-per-user` each. Each size is fitted in a fresh process, so
its peak resident memory (ru_maxrss) is its own: the fit as the indexer runs it (`fit_ease`, BLAS on
every core), with no cap, and with the default cap (`ease_max_items`). A size whose items x items
matrices cannot fit in this machine's memory is not run: its need is computed (three float64
matrices live at the peak: the Gram matrix, its inverse, LAPACK's workspace) and the time
extrapolated from the largest measured size by the cube of the size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

PEAK_MATRICES = 3  # float64 items x items matrices alive at once during the fit


def synthetic_ratings(n_items: int, n_users: int, per_user: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR (rated_ptr int64 (n_users + 1,), rated_rows int32 (n,)): per user about `per_user` distinct items,
    drawn with probability ~ 1 / (rank + 10) (Zipf-like popularity)."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / (np.arange(n_items) + 10.0)
    weights /= weights.sum()
    counts = np.clip(rng.poisson(per_user, n_users), 1, n_items)
    drawn = rng.choice(n_items, size=int(counts.sum()), p=weights)  # one draw for everyone: O(n_items) once
    owner = np.repeat(np.arange(n_users), counts)
    pairs = np.unique(owner.astype(np.int64) * n_items + drawn)       # distinct (user, item), sorted by user
    users, rows = np.divmod(pairs, n_items)
    ptr = np.zeros(n_users + 1, np.int64)
    ptr[1:] = np.cumsum(np.bincount(users, minlength=n_users))
    return ptr, rows.astype(np.int32)


def fit_once(n_items: int, n_users: int, per_user: int, max_items: int, seed: int) -> dict[str, Any]:
    """Runs in the child: one fit, its time and the process's peak memory."""
    from threadpoolctl import threadpool_limits

    from movierec.indexer.ease import fit_ease

    ptr, rows = synthetic_ratings(n_items, n_users, per_user, seed)
    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    with threadpool_limits(limits=os.cpu_count() or 1, user_api="blas"):
        items, weights = fit_ease(ptr, rows, n_items, 300.0, max_items)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"items": n_items, "users": n_users, "ratings": int(len(rows)), "rated_items": int(len(np.unique(rows))),
            "covered": int(len(items)), "max_items": max_items, "fit_s": seconds, "peak_rss_mb": peak_mb,
            "before_fit_rss_mb": baseline_mb, "served_weights_mb": weights.nbytes / 2**20}


def needed_gb(items: int) -> float:
    return PEAK_MATRICES * 8 * items * items / 2**30


def run(sizes: list[tuple[int, int]], per_user: int, cap: int, seed: int, memory_gb: float) -> dict[str, Any]:
    from tqdm import tqdm

    rows: list[dict[str, Any]] = []
    jobs = [(n, u, m) for n, u in sizes for m in (0, cap) if not (m and m >= n)]
    for n_items, n_users, max_items in tqdm(jobs, desc="EASE fits"):
        covered = min(n_items, max_items) if max_items else n_items
        if needed_gb(covered) > 0.8 * memory_gb:
            rows.append({"items": n_items, "users": n_users, "max_items": max_items, "covered": covered,
                         "not run": f"needs about {needed_gb(covered):.0f} GB ({PEAK_MATRICES} float64 "
                                    f"{covered:,} x {covered:,} matrices) of this machine's {memory_gb:.0f} GB"})
            continue
        child = subprocess.run([sys.executable, "-m", "movierec.bench.ease_scale", "--one",
                                json.dumps([n_items, n_users, per_user, max_items, seed])],
                               capture_output=True, text=True, check=True)
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
    measured = [r for r in rows if "fit_s" in r]
    largest = max(measured, key=lambda r: r["covered"]) if measured else None
    for r in rows:
        if "not run" in r and largest is not None:
            r["projected_fit_s"] = largest["fit_s"] * (r["covered"] / largest["covered"]) ** 3
            r["projected_peak_gb"] = needed_gb(r["covered"])
    return {"per_user": per_user, "cap": cap, "seed": seed, "memory_gb": memory_gb, "cores": os.cpu_count(),
            "rows": rows}


def write_report(report: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench-ease.json").write_text(json.dumps(report, indent=2))
    lines = ["# The collaborative model's size", "",
             f"Written by `make bench-scale` (`movierec-bench-ease`): synthetic ratings (about {report['per_user']} "
             f"per user, Zipf-like item popularity, seed {report['seed']}), each fit in a fresh process on this "
             f"{report['cores']}-core, {report['memory_gb']:.0f} GB machine, BLAS on every core.", "",
             "| items | users | ratings | EASE covers | fit | peak memory of the fit process | B held by each server |",
             "|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        cover = f"{r['covered']:,}" + (" (the cap)" if r["max_items"] and r["covered"] == r["max_items"] else "")
        if "not run" in r:
            projected = (f"~{r['projected_fit_s'] / 60:.0f} min projected" if "projected_fit_s" in r else "-")
            lines.append(f"| {r['items']:,} | {r['users']:,} | - | {cover} | not run: {r['not run']}; {projected} "
                         f"| ~{r.get('projected_peak_gb', needed_gb(r['covered'])):.0f} GB | "
                         f"{4 * r['covered'] ** 2 / 2**30:.1f} GB |")
        else:
            lines.append(f"| {r['items']:,} | {r['users']:,} | {r['ratings']:,} | {cover} | {r['fit_s']:.1f} s | "
                         f"{r['peak_rss_mb'] / 1024:.2f} GB | {r['served_weights_mb'] / 1024:.2f} GB |")
    lines += ["", "![bench-ease.png](bench-ease.png)", ""]
    path = out / "bench-ease.md"
    path.write_text("\n".join(lines))
    _plot(report, out / "bench-ease.png")
    return path


def _plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    for capped, colour, label in ((False, "#1f77b4", "every rated item"), (True, "#d62728", "capped")):
        rows = [r for r in report["rows"] if bool(r["max_items"]) == capped]
        done = [r for r in rows if "fit_s" in r]
        left.plot([r["items"] for r in done], [r["fit_s"] for r in done], "o-", color=colour, label=label)
        right.plot([r["items"] for r in done], [r["peak_rss_mb"] / 1024 for r in done], "o-", color=colour,
                   label=label)
        projected = [r for r in rows if "projected_fit_s" in r]
        left.scatter([r["items"] for r in projected], [r["projected_fit_s"] for r in projected], marker="x",
                     color=colour, label=f"{label}, projected" if projected else None)
        right.scatter([r["items"] for r in projected], [r["projected_peak_gb"] for r in projected], marker="x",
                      color=colour)
    right.axhline(report["memory_gb"], color="grey", linestyle=":", label="this machine")
    for ax, ylabel in ((left, "fit seconds"), (right, "peak GB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("items in the catalogue")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="movierec-bench-ease", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child: [items, users, per_user, max_items, seed]
    parser.add_argument("--items", default="3400,20000,100000")
    parser.add_argument("--users", default="700,20000,100000", help="one per item count")
    parser.add_argument("--ratings-per-user", type=int, default=100)
    parser.add_argument("--cap", type=int, default=None, help="default: the ease_max_items setting")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(fit_once(*json.loads(args.one))))
        return 0
    from movierec.settings import Settings

    cap = args.cap if args.cap is not None else Settings().ease_max_items
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    sizes = list(zip((int(x) for x in args.items.split(",")), (int(x) for x in args.users.split(","))))
    path = write_report(run(sizes, args.ratings_per_user, cap, args.seed, memory_gb), args.out)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
