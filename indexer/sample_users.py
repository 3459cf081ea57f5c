"""Make seeded synthetic users for the sample catalogue, in MovieLens layout.

Reads data/sample/tmdb_5000_movies.csv and writes ``ratings.csv``
(userId,movieId,rating,timestamp) and ``links.csv`` (movieId,imdbId,tmdbId).
The output depends only on the input file, the number of users and the seed.

Usage:
    python3 indexer/sample_users.py --movies data/sample/tmdb_5000_movies.csv --out data/sample
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

# 2015-01-01T00:00:00Z and 2020-12-31T23:59:59Z
TS_START = 1420070400
TS_END = 1609459199
MAX_GAP = 10 * 86400  # at most ten days between two ratings of the same user
MIN_RATED, MAX_RATED = 15, 40


class Movie:
    """One catalogue row, reduced to what the rating model needs."""

    __slots__ = ("movie_id", "tmdb_id", "genres", "vote_average")

    def __init__(self, movie_id: int, tmdb_id: int, genres: list[str], vote_average: float) -> None:
        self.movie_id = movie_id
        self.tmdb_id = tmdb_id
        self.genres = genres
        self.vote_average = vote_average


def read_movies(movies_csv: Path) -> list[Movie]:
    """Read the TMDB-style CSV; movieIds 1..M follow the row order."""
    movies: list[Movie] = []
    with movies_csv.open(newline="", encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f), start=1):
            genres = [g["name"] for g in json.loads(row.get("genres") or "[]")]
            try:
                vote = float(row.get("vote_average") or "")
            except ValueError:
                vote = 6.0
            movies.append(Movie(i, int(row["id"]), genres, vote))
    return movies


def _clip_half(x: float) -> float:
    """Clip to 0.5..5.0 and round to the nearest multiple of 0.5."""
    x = min(5.0, max(0.5, x))
    return int(x * 2 + 0.5) / 2


def _rating(rng: random.Random, movie: Movie, fav: list[str], disliked: str | None, bias: float) -> float:
    """Score = movie quality + genre affinity + user bias + noise."""
    score = 3.0 + 0.55 * (movie.vote_average - 7.0) + bias
    hits = sum(1 for g in movie.genres if g in fav)
    if hits:
        score += 0.7 + 0.25 * (hits - 1)
    if disliked is not None and disliked in movie.genres:
        score -= 1.4
    score += rng.gauss(0.0, 0.55)
    return _clip_half(score)


def _user_rows(
    rng: random.Random, user_id: int, movies: list[Movie], all_genres: list[str]
) -> list[tuple[int, int, float, int]]:
    """Pick tastes and a watch history for one user; return rating rows in time order."""
    fav = rng.sample(all_genres, rng.randint(1, 3))
    others = [g for g in all_genres if g not in fav]
    disliked = rng.choice(others) if others and rng.random() < 0.5 else None
    bias = rng.gauss(0.0, 0.3)

    n = min(rng.randint(MIN_RATED, MAX_RATED), len(movies))
    liked_pool = [m for m in movies if any(g in fav for g in m.genres)]
    n_fav = min(len(liked_pool), round(n * rng.uniform(0.6, 0.85)))
    chosen = rng.sample(liked_pool, n_fav)
    taken = {m.movie_id for m in chosen}
    rest = [m for m in movies if m.movie_id not in taken]
    chosen += rng.sample(rest, n - n_fav)
    rng.shuffle(chosen)

    ts = rng.randint(TS_START, TS_END - MAX_RATED * MAX_GAP)
    rows = []
    for movie in chosen:
        ts += rng.randint(60, MAX_GAP)
        rows.append((user_id, movie.movie_id, _rating(rng, movie, fav, disliked, bias), ts))
    return rows


def make_sample_ratings(movies_csv: Path, out_dir: Path, n_users: int = 120, seed: int = 7) -> tuple[Path, Path]:
    """Write ratings.csv and links.csv into out_dir; return their paths."""
    movies = read_movies(Path(movies_csv))
    if not movies:
        raise ValueError(f"no movies in {movies_csv}")
    all_genres = sorted({g for m in movies for g in m.genres})
    rng = random.Random(seed)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ratings_path = out_dir / "ratings.csv"
    links_path = out_dir / "links.csv"

    with ratings_path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["userId", "movieId", "rating", "timestamp"])
        for user_id in range(1, n_users + 1):
            for uid, mid, rating, ts in _user_rows(rng, user_id, movies, all_genres):
                w.writerow([uid, mid, f"{rating:.1f}", ts])

    with links_path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["movieId", "imdbId", "tmdbId"])
        for m in movies:
            w.writerow([m.movie_id, f"{m.movie_id:07d}", m.tmdb_id])

    return ratings_path, links_path


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    here = Path(__file__).resolve().parent.parent / "data" / "sample"
    p = argparse.ArgumentParser(description="Write seeded synthetic ratings for the sample catalogue.")
    p.add_argument("--movies", type=Path, default=here / "tmdb_5000_movies.csv", help="TMDB-style movies CSV")
    p.add_argument("--out", type=Path, default=here, help="directory for ratings.csv and links.csv")
    p.add_argument("--users", type=int, default=120, help="number of synthetic users (default 120)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    args = p.parse_args(argv)
    if args.users < 1:
        p.error("--users must be at least 1")
    ratings, links = make_sample_ratings(args.movies, args.out, args.users, args.seed)
    print(f"wrote {ratings} and {links}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
