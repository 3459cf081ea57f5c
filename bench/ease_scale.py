"""`movierec-bench-ease`: the collaborative model's (EASE's) memory and time as the catalogue grows.

Synthetic ratings, seeded: users rate a Zipf-like share of the items (a few are rated by many, most
by few, as in MovieLens), about `--ratings-per-user` each. Each size is fitted in a fresh process, so
its peak resident memory (ru_maxrss) is its own: the fit as the indexer runs it (`fit_ease`, BLAS on
every core), with no cap, and with the default cap (`ease_max_items`). A size whose items x items
matrices cannot fit in this machine's memory is not run: its need is computed (three float64
matrices live at the peak: the Gram matrix, its inverse, LAPACK's workspace) and the time
extrapolated from the largest measured size by the cube of the size. A capped fit also fits the
item-kNN tail beyond the cap (`fit_tail`, the settings' neighbours and shrink), timed apart.

The tail's worth is measured on real ratings (`--real-ratings`, MovieLens files: each user's newest
20% held out, liked = rated 4 or more) with EASE capped far below their rated movies (`--real-cap`),
so that most of them fall in the tail: the collaborative scores alone, without and with the tail,
as top-20 lists over the whole catalogue (recall and NDCG: does the tail crowd out better head
movies?) and as an ordering of the tail movies alone (AUC of the held-out liked ones against the
others, beside the AUC of ordering them by rating count: without a tail model all of them score 0).
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

from movierec.hardware import usable_cores

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
    pairs = np.unique(owner.astype(np.int64) * n_items + drawn)  # distinct (user, item), sorted by user
    users, rows = np.divmod(pairs, n_items)
    ptr = np.zeros(n_users + 1, np.int64)
    ptr[1:] = np.cumsum(np.bincount(users, minlength=n_users))
    return ptr, rows.astype(np.int32)


def fit_once(n_items: int, n_users: int, per_user: int, max_items: int, seed: int) -> dict[str, Any]:
    """Runs in the child: one fit, its time and the process's peak memory."""
    from threadpoolctl import threadpool_limits

    from movierec.indexer.ease import fit_ease, fit_tail
    from movierec.settings import Settings

    ptr, rows = synthetic_ratings(n_items, n_users, per_user, seed)
    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    with threadpool_limits(limits=usable_cores(), user_api="blas"):
        items, weights = fit_ease(ptr, rows, n_items, 300.0, max_items)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {
        "items": n_items,
        "users": n_users,
        "ratings": int(len(rows)),
        "rated_items": int(len(np.unique(rows))),
        "covered": int(len(items)),
        "max_items": max_items,
        "fit_s": seconds,
        "peak_rss_mb": peak_mb,
        "before_fit_rss_mb": baseline_mb,
        "served_weights_mb": weights.nbytes / 2**20,
    }
    if max_items:
        settings = Settings()
        started = time.perf_counter()
        tail, tail_weights = fit_tail(
            ptr, rows, n_items, items, weights, settings.index.tail_neighbours, settings.index.tail_shrink
        )
        out.update(
            tail=int(len(tail)),
            tail_fit_s=time.perf_counter() - started,
            tail_weights_mb=(tail_weights.data.nbytes + tail_weights.indices.nbytes + tail_weights.indptr.nbytes)
            / 2**20,
            peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        )
    return out


def real_split(path: Path) -> tuple[np.ndarray, np.ndarray, int, dict[int, np.ndarray]]:
    """A MovieLens ratings.csv split by time (each user's newest 20% held out): the training CSR
    (rated_ptr int64 (users + 1,), rated_rows int32 (n,)), the movie count, and each user's held-out
    liked (rated >= 4) movie rows."""
    import pandas as pd

    from movierec.splits import temporal_split

    frame = pd.read_csv(path).rename(columns={"userId": "user_id", "movieId": "movie_id"})
    train, held = temporal_split(frame[["user_id", "movie_id", "rating", "timestamp"]], 0.2)
    movie_row = {m: i for i, m in enumerate(sorted(frame["movie_id"].unique()))}
    users = sorted(frame["user_id"].unique())
    user_row = {u: j for j, u in enumerate(users)}
    owner = train["user_id"].map(user_row).to_numpy()
    order = np.argsort(owner, kind="stable")
    ptr = np.zeros(len(users) + 1, np.int64)
    ptr[1:] = np.cumsum(np.bincount(owner, minlength=len(users)))
    rows = train["movie_id"].map(movie_row).to_numpy()[order].astype(np.int32)
    liked = held[held["rating"] >= 4.0]
    targets = {
        user_row[u]: np.array([movie_row[m] for m in group], np.int64)
        for u, group in liked.groupby("user_id")["movie_id"]
    }
    return ptr, rows, len(movie_row), targets


def roc_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """The probability that a positive scores above a negative (ties count half): Mann-Whitney U over
    the counts, from average ranks."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    n_pos = int(positive.sum())
    n_neg = len(scores) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def tail_quality(path: Path, cap: int, k: int = 20) -> dict[str, Any]:
    """The collaborative scores alone on a real split, EASE capped at `cap`, without and with the tail
    (module docstring): recall@k, NDCG@k, and AUCs over the tail movies."""
    from movierec.indexer.ease import fit_ease, fit_tail
    from movierec.settings import Settings

    settings = Settings()
    ptr, rows, n, targets = real_split(path)
    items, weights = fit_ease(ptr, rows, n, settings.index.ease_lambda, cap)
    started = time.perf_counter()
    tail, tail_weights = fit_tail(
        ptr, rows, n, items, weights, settings.index.tail_neighbours, settings.index.tail_shrink
    )
    tail_s = time.perf_counter() - started
    position = np.full(n, -1, np.int64)
    position[items] = np.arange(len(items))
    counts = np.bincount(rows, minlength=n).astype(np.float64)
    in_tail = np.zeros(n, bool)
    in_tail[tail] = True
    discount = 1 / np.log2(np.arange(k) + 2)
    found: dict[str, list[float]] = {
        "recall cap": [],
        "recall tail": [],
        "ndcg cap": [],
        "ndcg tail": [],
        "auc counts": [],
        "auc tail": [],
    }
    for user, target in targets.items():
        rated = rows[ptr[user] : ptr[user + 1]]
        head = position[rated]
        head = head[head >= 0]
        capped = np.full(n, -np.inf)
        capped[items] = weights[head].sum(axis=0) if len(head) else 0.0
        with_tail = capped.copy()
        with_tail[tail] = np.asarray(tail_weights[rated].sum(axis=0)).ravel()
        for name, scores in (("cap", capped), ("tail", with_tail)):
            scores[rated] = -np.inf
            top = np.argsort(-scores, kind="stable")[:k]
            hit = np.isin(top, target) & np.isfinite(scores[top])
            ideal = discount[: min(k, len(target))].sum()
            found[f"recall {name}"].append(hit.sum() / min(k, len(target)))
            found[f"ndcg {name}"].append(float((hit * discount).sum() / ideal))
        candidates = np.flatnonzero(in_tail & ~np.isin(np.arange(n), rated))
        liked = np.isin(candidates, target)
        if liked.any() and not liked.all():
            found["auc counts"].append(roc_auc(liked, counts[candidates]))
            found["auc tail"].append(roc_auc(liked, with_tail[candidates]))
    return {
        "ratings": str(path),
        "movies": n,
        "rated": int(len(np.unique(rows))),
        "cap": cap,
        "tail": int(len(tail)),
        "tail_fit_s": tail_s,
        "users": len(targets),
        "users_with_liked_tail": len(found["auc tail"]),
        **{name: float(np.mean(v)) for name, v in found.items()},
    }


def needed_gb(items: int) -> float:
    return PEAK_MATRICES * 8 * items * items / 2**30


def run(sizes: list[tuple[int, int]], per_user: int, cap: int, seed: int, memory_gb: float) -> dict[str, Any]:
    from tqdm import tqdm

    rows: list[dict[str, Any]] = []
    jobs = [(n, u, m) for n, u in sizes for m in (0, cap) if not (m and m >= n)]
    for n_items, n_users, max_items in tqdm(jobs, desc="EASE fits"):
        covered = min(n_items, max_items) if max_items else n_items
        if needed_gb(covered) > 0.8 * memory_gb:
            rows.append(
                {
                    "items": n_items,
                    "users": n_users,
                    "max_items": max_items,
                    "covered": covered,
                    "not run": f"needs about {needed_gb(covered):.0f} GB ({PEAK_MATRICES} float64 "
                    f"{covered:,} x {covered:,} matrices) of this machine's {memory_gb:.0f} GB",
                }
            )
            continue
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "movierec.bench.ease_scale",
                "--one",
                json.dumps([n_items, n_users, per_user, max_items, seed]),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
    measured = [r for r in rows if "fit_s" in r]
    largest = max(measured, key=lambda r: r["covered"]) if measured else None
    for r in rows:
        if "not run" in r and largest is not None:
            r["projected_fit_s"] = largest["fit_s"] * (r["covered"] / largest["covered"]) ** 3
            r["projected_peak_gb"] = needed_gb(r["covered"])
    return {
        "per_user": per_user,
        "cap": cap,
        "seed": seed,
        "memory_gb": memory_gb,
        "cores": usable_cores(),
        "rows": rows,
    }


def write_report(report: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench-ease.json").write_text(json.dumps(report, indent=2))
    lines = [
        "# The collaborative model's size",
        "",
        f"Written by `make bench-scale` (`movierec-bench-ease`): synthetic ratings (about {report['per_user']} "
        f"per user, Zipf-like item popularity, seed {report['seed']}), each fit in a fresh process on this "
        f"{report['cores']}-core, {report['memory_gb']:.0f} GB machine, BLAS on every core.",
        "",
        "| items | users | ratings | EASE covers | fit | peak memory of the fit process | B held by each server |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        cover = f"{r['covered']:,}" + (" (the cap)" if r["max_items"] and r["covered"] == r["max_items"] else "")
        if "not run" in r:
            projected = f"~{r['projected_fit_s'] / 60:.0f} min projected" if "projected_fit_s" in r else "-"
            lines.append(
                f"| {r['items']:,} | {r['users']:,} | - | {cover} | not run: {r['not run']}; {projected} "
                f"| ~{r.get('projected_peak_gb', needed_gb(r['covered'])):.0f} GB | "
                f"{4 * r['covered'] ** 2 / 2**30:.1f} GB |"
            )
        else:
            lines.append(
                f"| {r['items']:,} | {r['users']:,} | {r['ratings']:,} | {cover} | {r['fit_s']:.1f} s | "
                f"{r['peak_rss_mb'] / 1024:.2f} GB | {r['served_weights_mb'] / 1024:.2f} GB |"
            )
    capped = [r for r in report["rows"] if "tail_fit_s" in r]
    if capped:
        lines += [
            "",
            "The tail beyond the cap (item-kNN, `tail_neighbours` and `tail_shrink` as set), fitted after "
            "EASE in the same process (its peak memory is the one above):",
            "",
            "| items | tail movies | tail fit | tail weights held by each server |",
            "|---|---|---|---|",
        ]
        for r in capped:
            lines.append(
                f"| {r['items']:,} | {r['tail']:,} | {r['tail_fit_s']:.1f} s | {r['tail_weights_mb'] / 1024:.2f} GB |"
            )
    if report.get("quality"):
        lines += [
            "",
            "## What the tail is worth, on real ratings",
            "",
            "EASE capped far below the rated movies, so most fall in the tail; the collaborative scores "
            "alone, each user's newest 20% held out (liked: rated 4 or more). Top-20 over the whole "
            "catalogue: does the tail crowd out better head movies? AUC over the tail movies alone: do "
            "a user's liked ones score above the rest? (Without a tail model every tail movie scores 0; "
            "ordering them by rating count is the baseline a popularity signal gives.)",
            "",
            "| ratings | rated movies | EASE cap | tail | recall@20 cap only | with tail | NDCG@20 cap only "
            "| with tail | tail AUC, rating count | tail AUC, item-kNN | users |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for q in report["quality"]:
            lines.append(
                f"| `{q['ratings']}` | {q['rated']:,} | {q['cap']:,} | {q['tail']:,} | "
                f"{q['recall cap']:.4f} | {q['recall tail']:.4f} | {q['ndcg cap']:.4f} | "
                f"{q['ndcg tail']:.4f} | {q['auc counts']:.3f} | {q['auc tail']:.3f} | "
                f"{q['users_with_liked_tail']} |"
            )
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
        right.plot([r["items"] for r in done], [r["peak_rss_mb"] / 1024 for r in done], "o-", color=colour, label=label)
        projected = [r for r in rows if "projected_fit_s" in r]
        left.scatter(
            [r["items"] for r in projected],
            [r["projected_fit_s"] for r in projected],
            marker="x",
            color=colour,
            label=f"{label}, projected" if projected else None,
        )
        right.scatter(
            [r["items"] for r in projected], [r["projected_peak_gb"] for r in projected], marker="x", color=colour
        )
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
    parser = argparse.ArgumentParser(
        prog="movierec-bench-ease", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child: [items, users, per_user, max_items, seed]
    parser.add_argument("--items", default="3400,20000,100000")
    parser.add_argument("--users", default="700,20000,100000", help="one per item count")
    parser.add_argument("--ratings-per-user", type=int, default=100)
    parser.add_argument("--cap", type=int, default=None, help="default: the ease_max_items setting")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--real-ratings",
        default="../shared/data/seed/ratings_small.csv,../shared/data/ml-latest-small/ratings.csv",
        help="MovieLens ratings files for the tail's quality (comma-separated; '' to skip)",
    )
    parser.add_argument("--real-cap", type=int, default=1000, help="the EASE cap of the quality runs")
    parser.add_argument("--skip-sizes", action="store_true", help="only the quality runs")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(fit_once(*json.loads(args.one))))
        return 0
    from movierec.settings import Settings

    cap = args.cap if args.cap is not None else Settings().index.ease_max_items
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    sizes = list(zip((int(x) for x in args.items.split(",")), (int(x) for x in args.users.split(","))))
    report = (
        run(sizes, args.ratings_per_user, cap, args.seed, memory_gb)
        if not args.skip_sizes
        else {
            "per_user": args.ratings_per_user,
            "cap": cap,
            "seed": args.seed,
            "memory_gb": memory_gb,
            "cores": usable_cores(),
            "rows": [],
        }
    )
    report["quality"] = [tail_quality(Path(p), args.real_cap) for p in args.real_ratings.split(",") if p.strip()]
    path = write_report(report, args.out)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
