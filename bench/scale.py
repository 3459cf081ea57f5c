"""`make bench-scale` / `movierec-bench-scale`: the ranking at 1,000,000 movies and 300,000 users.

The catalogue keeps the geometry of real sentence embeddings: an index of real movies
(`--index-dir`; `make bench-scale` builds one of the seed data) gives its movie embeddings and its
users' taste vectors, and a larger catalogue is those plus noisy copies of them (the noise
`calibrate_nprobe` adds to stored vectors), renormalised. Synthetic clusters, which this used to
draw, are far tighter than real embeddings and flattered the approximate index. Users have taste
vectors but no ratings (EASE and the community signal need real ratings and are measured by
`make bench` on the seed data).

For each size (the index's own movies and users, then each `--movies`/`--users` pair) it
measures index build time and memory, and Recommend latency in-process (encoder + ranking, one
request at a time) with exact indexes and, above `exact_search_max`, with the approximate (IVF)
indexes the indexer builds, calibrated as the indexer calibrates them (generated everyday requests
and taste vectors, movierec.indexer.build.calibration_queries); plus recall@100 of the
approximate movie index against exact search for held-out real prompts, which play no part in the
calibration: first messages of ReDial conversations (`--conversations`) and generated requests
of another seed. Writes reports/bench-scale.md, .json and .png. Not part of CI (about 10 minutes,
6 GB); `make test` runs it at 20,000 movies.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from movierec.bench.run import rss_mb
from movierec.prompt_generator import prompts

D = 384


def real_geometry(base: np.ndarray, n: int, rng: np.random.Generator, chunk: int = 100_000) -> np.ndarray:
    """n unit vectors float32 (n, d): the rows of `base` (n0, d) first, then noisy copies of them in
    turn, renormalised."""
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    first = min(n, len(base))
    out[:first] = base[:first]
    scale = 0.5 / np.sqrt(base.shape[1])
    for start in range(first, n, chunk):
        m = min(chunk, n - start)
        block = base[np.arange(start, start + m) % len(base)] + rng.normal(scale=scale, size=(m, base.shape[1])).astype(
            np.float32
        )
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + m] = block
    return out


def synthetic_artifact(
    movie_vectors: np.ndarray, user_vectors: np.ndarray, exact_max: int, queries: list[np.ndarray] | None = None
) -> tuple[Any, dict]:
    """An IndexArtifact over these vectors (no ratings), built with the production index rules;
    `queries` (q, d) calibrate an approximate index."""
    from movierec.artifact import IndexArtifact
    from movierec.domain import Movie
    from movierec.manifest import Counts, Manifest, ModelRecord
    from movierec.vectorindex import build_index

    n_movies, n_users = len(movie_vectors), len(user_vectors)
    started = time.perf_counter()
    rss_before = rss_mb_self()
    movie_index, movie_choice = build_index(movie_vectors, exact_max, queries=queries)
    user_index, user_choice = build_index(user_vectors, exact_max, queries=queries)
    lists = movie_choice.lists + user_choice.lists
    build = {
        "seconds": time.perf_counter() - started,
        "rss_added_mb": rss_mb_self() - rss_before,
        # what the two indexes hold: the vectors, plus ids and centroids for IVF
        "index_mb": ((n_movies + n_users) * D * 4 + (8 * (n_movies + n_users) + lists * D * 4 if lists else 0)) / 2**20,
        "movies": movie_choice.as_dict(),
        "users": user_choice.as_dict(),
    }
    movies = [Movie(movie_id=i + 1, title=f"movie {i + 1}", year=2000, genres=()) for i in range(n_movies)]
    artifact = IndexArtifact(
        path=Path("synthetic"),
        manifest=Manifest(
            index_version=f"synthetic-{n_movies}",
            dimensions=D,
            counts=Counts(movies=n_movies, users=n_users, ratings=0),
            model=ModelRecord(name="synthetic"),
        ),
        movies=movies,
        movie_ids=np.arange(1, n_movies + 1, dtype=np.int64),
        movie_vectors=movie_vectors,
        movie_index=movie_index,
        user_ids=np.arange(1, n_users + 1, dtype=np.int64),
        user_vectors=user_vectors,
        user_index=user_index,
        rated_ptr=np.zeros(n_users + 1, np.int64),
        rated_rows=np.zeros(0, np.int32),
        rated_values=np.zeros(0, np.float32),
        rated_timestamps=np.zeros(0, np.int64),
        ease_items=np.zeros(0, np.int32),
        ease_weights=np.zeros((0, 0), np.float32),
    )
    return artifact, build


def rss_mb_self() -> float:
    import os

    return rss_mb(os.getpid())


def latency(artifact: Any, encoder: Any, repeats: int, seed: int) -> dict[str, float]:
    """Recommend in-process, one request at a time: total and ranking-only ms (medians, p99)."""
    from movierec.domain import RecommendQuery
    from movierec.ranking import RankRequest
    from movierec.recommender import Recommender
    from movierec.settings import Settings

    recommender = Recommender(artifact, encoder, Settings().ranking)
    rng = np.random.default_rng(seed)
    texts = prompts("short", repeats + 3, seed)
    totals, ranks = [], []
    for i, text in enumerate(texts):
        user = int(artifact.user_ids[rng.integers(len(artifact.user_ids))])
        started = time.perf_counter()
        recommender.recommend_batch([RecommendQuery(prompt=text, user_id=user, limit=10)])
        total = time.perf_counter() - started
        vector = encoder.encode([text])[0]
        profile = recommender.profile(user)
        started = time.perf_counter()
        recommender.ranker.rank([RankRequest(text, vector, profile, 10)])
        rank = time.perf_counter() - started
        if i >= 3:
            totals.append(total * 1000)
            ranks.append(rank * 1000)
    return {
        "recommend_p50_ms": statistics.median(totals),
        "recommend_p99_ms": float(np.percentile(totals, 99)),
        "rank_p50_ms": statistics.median(ranks),
        "rank_p99_ms": float(np.percentile(ranks, 99)),
    }


def recall(artifact: Any, held_out: np.ndarray) -> float:
    """recall@100 of the movie index's search against exact search, for `held_out` (q, d) queries."""
    from movierec.vectorindex import exact_top, recall_at

    _, found = artifact.movie_index.search(held_out, 100)
    return recall_at(found, exact_top(artifact.movie_vectors, held_out, 100))


def conversation_openings(path: Path, n: int) -> list[str]:
    """The first message of each ReDial conversation that has at least three words, up to `n`."""
    out: list[str] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            messages = json.loads(line).get("messages") or []
            text = messages[0].get("text", "") if messages else ""
            if len(text.split()) >= 3:
                out.append(text)
            if len(out) >= n:
                break
    return out


def held_out_prompts(encoder: Any, conversations: Path | None, seed: int, n: int = 200) -> tuple[np.ndarray, str]:
    """Real prompts none of the calibration saw: ReDial openings (when the file is there) and
    generated short requests of another seed; float32 (q, d) and a description."""
    openings = conversation_openings(conversations, n) if conversations and conversations.is_file() else []
    texts = openings + prompts("short", n, seed + 100)
    what = (f"{len(openings)} ReDial conversation openings and " if openings else "") + f"{n} generated requests"
    return encoder.encode(texts).astype(np.float32), what


def run(
    index_dir: Path,
    sizes: list[tuple[int, int]],
    exact_max: int,
    repeats: int,
    conversations: Path | None,
    seed: int = 0,
) -> dict[str, Any]:
    from movierec.artifact import load_artifact
    from movierec.embedding import Encoder
    from movierec.indexer.build import calibration_queries
    from movierec.runtime import tune_process
    from movierec.settings import load_settings

    settings = load_settings()
    tune_process(settings.encoder.torch_threads)
    encoder = Encoder(
        settings.encoder.model_dir,
        settings.encoder.max_seq_length,
        settings.encoder.embed_batch_size,
        settings.encoder.embed_batch_tokens,
    )
    real = load_artifact(index_dir)
    base_movies, base_users = real.movie_vectors.astype(np.float32), real.user_vectors.astype(np.float32)
    rng = np.random.default_rng(seed)
    queries = calibration_queries(encoder, base_users, seed)
    held_out, held_out_what = held_out_prompts(encoder, conversations, seed)
    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "exact_search_max": exact_max,
        "index": str(real.path),
        "base_movies": len(base_movies),
        "base_users": len(base_users),
        "held_out": held_out_what,
        "sizes": [],
    }
    plan = [(len(base_movies), len(base_users), ("exact",))] + [
        (m, u, ("exact", "approximate") if max(m, u) > exact_max else ("exact",)) for m, u in sizes
    ]
    steps = tqdm(total=sum(len(kinds) for *_, kinds in plan), desc="bench-scale", unit="step")
    for n_movies, n_users, kinds in plan:
        steps.set_postfix_str(f"{n_movies:,} movies: vectors")
        movie_vectors = real_geometry(base_movies, n_movies, rng)
        user_vectors = real_geometry(base_users, n_users, rng)
        size: dict[str, Any] = {
            "movies": n_movies,
            "users": n_users,
            "vectors_mb": (movie_vectors.nbytes + user_vectors.nbytes) / 2**20,
        }
        for kind in kinds:
            steps.set_postfix_str(f"{n_movies:,} movies: {kind}")
            limit = max(n_movies, n_users) if kind == "exact" else exact_max
            artifact, build = synthetic_artifact(movie_vectors, user_vectors, limit, queries)
            row = {"build": build, **latency(artifact, encoder, repeats, seed)}
            if kind == "approximate":
                row["recall_at_100"] = recall(artifact, held_out)
            row["rss_mb"] = rss_mb_self()
            size[kind] = row
            del artifact
            gc.collect()
            steps.update()
        report["sizes"].append(size)
        del movie_vectors, user_vectors
        gc.collect()
    steps.close()
    return report


def write_report(report: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench-scale.json").write_text(json.dumps(report, indent=1) + "\n")
    lines = [
        "# Scale benchmark",
        "",
        f"Written by `make bench-scale` (`movierec-bench-scale`) on {report['started']}; it took "
        f"{report['seconds']:.0f} s. The real geometry: the {report['base_movies']:,} movie embeddings and "
        f"{report['base_users']:,} taste vectors of `{report['index']}`, then noisy copies of them (384 "
        "dimensions); production index rules (exact up to "
        f"`exact_search_max` = {report['exact_search_max']:,} vectors, IVF above, probes calibrated on "
        "generated everyday requests and taste vectors as the indexer does) and the production "
        "`Recommender.recommend_batch`, one request at a time, in-process (no gRPC). recall@100 is for "
        f"held-out real prompts: {report['held_out']}, none of them seen by the calibration.",
        "",
        "Recommend = encoder forward + ranking for a random known user; a user's first request also "
        "builds their profile (taste scores over the whole catalogue when the index is exact), which "
        "the p99 shows. Memory: what the two indexes hold, and the benchmark process's RSS after the row.",
        "",
        "| movies | users | movie index | build s | index MB | process RSS MB | Recommend p50 ms | p99 ms "
        "| ranking p50 ms | recall@100 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in report["sizes"]:
        for kind in ("exact", "approximate"):
            if kind not in size:
                continue
            row = size[kind]
            b = row["build"]
            desc = (
                f"IVF, {b['movies']['lists']} lists, nprobe {b['movies']['nprobe']}"
                if b["movies"]["kind"] == "ivf"
                else "exact (flat)"
            )
            rec = f"{row['recall_at_100']:.3f}" if "recall_at_100" in row else "1 (exact)"
            lines.append(
                f"| {size['movies']:,} | {size['users']:,} | {desc} | {b['seconds']:.1f} | "
                f"{b['index_mb']:.0f} | {row['rss_mb']:.0f} | {row['recommend_p50_ms']:.1f} | "
                f"{row['recommend_p99_ms']:.1f} | {row['rank_p50_ms']:.1f} | {rec} |"
            )
    big = report["sizes"][-1]
    if "approximate" in big:
        b = big["approximate"]["build"]
        users = (
            f"users {b['users']['recall_at_100']:.3f} at nprobe {b['users']['nprobe']} of {b['users']['lists']}"
            if b["users"]["kind"] == "ivf"
            else "users exact"
        )
        base, large = report["sizes"][0]["exact"]["recommend_p50_ms"], big["approximate"]["recommend_p50_ms"]
        lines += [
            "",
            f"**At {big['movies']:,} movies**: Recommend p50 {large:.1f} ms = {large / base:.2f} × the "
            f"{report['sizes'][0]['movies']:,}-movie "
            f"p50 ({base:.1f} ms; asked: at most 2 ×), recall@100 for held-out real prompts "
            f"{big['approximate']['recall_at_100']:.3f} (asked: at least 0.95).",
        ]
        lines += [
            "",
            f"Build-time calibration of the IVF probes (recall@100 on the calibration queries, "
            f"{b['movies'].get('calibrated_on') or 'stored'}): movies "
            f"{b['movies']['recall_at_100']:.3f} at nprobe {b['movies']['nprobe']} of {b['movies']['lists']}, "
            f"{users}. The recall column is measured separately, on the held-out prompts.",
            "",
            "![latency by size](bench-scale.png)",
            "",
        ]
    _plot(report, out / "bench-scale.png")
    (out / "bench-scale.md").write_text("\n".join(lines) + "\n")
    return out / "bench-scale.md"


def _plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, recommend, rank = [], [], []
    for size in report["sizes"]:
        for kind in ("exact", "approximate"):
            if kind in size:
                labels.append(f"{size['movies']:,} movies\n{kind}")
                recommend.append(size[kind]["recommend_p50_ms"])
                rank.append(size[kind]["rank_p50_ms"])
    fig, ax = plt.subplots(figsize=(8, 4.5))
    x = np.arange(len(labels))
    ax.bar(x - 0.2, recommend, 0.4, label="Recommend (encoder + ranking)")
    ax.bar(x + 0.2, rank, 0.4, label="ranking only")
    ax.set_xticks(x, labels)
    ax.set_ylabel("p50 latency, ms (log)")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title("One request, in-process")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="movierec-bench-scale", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--index-dir",
        type=Path,
        default=Path("var/bench-scale/index"),
        help="an index of real movies: its embeddings and taste vectors seed the catalogue",
    )
    parser.add_argument("--movies", default="100000,1000000", help="catalogue sizes, comma-separated")
    parser.add_argument("--users", default="30000,300000", help="user counts, one per catalogue size")
    parser.add_argument("--exact-max", type=int, default=200_000, help="the exact_search_max setting to apply")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument(
        "--conversations",
        type=Path,
        default=Path("../shared/data/redial/dev.jsonl"),
        help="ReDial conversations whose openings are held-out real prompts (skipped if missing)",
    )
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    movies = [int(x) for x in args.movies.split(",") if x.strip()]
    users = [int(x) for x in args.users.split(",") if x.strip()]
    if len(movies) != len(users):
        parser.error("--movies and --users need the same number of sizes")
    started = time.monotonic()
    report = run(args.index_dir, list(zip(movies, users)), args.exact_max, args.repeats, args.conversations)
    report["seconds"] = time.monotonic() - started
    print(f"report: {write_report(report, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
