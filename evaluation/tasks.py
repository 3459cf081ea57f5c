"""The evaluation tasks: which requests are asked and what counts as a right answer."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from movierec.domain import Movie
from movierec.evaluation import metrics
from movierec.evaluation.rankers import EvalRanker, EvalRequest

LIKED = 4.0


@dataclass
class Task:
    """Requests with their answers; `score(ranker)` runs the ranker and averages the metrics."""

    name: str
    description: str
    limit: int
    requests: list[EvalRequest] = field(default_factory=list)
    relevant: list[set[int]] = field(default_factory=list)  # per request, movie rows
    metric_names: tuple[str, ...] = ()
    skipped: Counter[str] = field(default_factory=Counter)

    def score(self, ranker: EvalRanker) -> dict[str, float]:
        return {name: float(np.mean(v)) if len(v) else 0.0 for name, v in self.per_request(ranker).items()}

    def per_request(self, ranker: EvalRanker) -> dict[str, np.ndarray]:
        """Each metric per request, float64 (n_requests,), in request order."""
        ranked = ranker.rank(self.requests, self.limit)
        values: dict[str, list[float]] = {m: [] for m in self.metric_names}
        for lists, relevant in zip(ranked, self.relevant):
            for name in self.metric_names:
                values[name].append(_metric(name, lists, relevant))
        return {name: np.array(v, dtype=np.float64) for name, v in values.items()}


def _metric(name: str, ranked: list[int], relevant: set[int]) -> float:
    kind, _, k = name.partition("@")
    if kind == "Recall":
        return metrics.recall_at(ranked, relevant, int(k))
    if kind == "NDCG":
        return metrics.ndcg_at(ranked, relevant, int(k))
    if kind == "Precision":
        return metrics.precision_at(ranked, relevant, int(k))
    target = next(iter(relevant))
    if kind == "Hit":
        return metrics.hit_at(ranked, target, int(k))
    if kind == "MRR":
        return metrics.reciprocal_rank(ranked[: int(k)], target)
    raise ValueError(name)


def genre_prompt(genres: tuple[str, ...]) -> str:
    """("Comedy", "Romance") -> "a comedy and romance movie"."""
    names = [g.lower() for g in genres]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"a {listed} movie"


def keyword_prompt(keyword: str) -> str:
    return f"a movie about {keyword.lower()}"


def taste_task(held_out: pd.DataFrame, user_row: dict[int, int], movie_row: dict[int, int]) -> Task:
    """No prompt: rank every movie a user did not rate; relevant = held-out ratings >= 4."""
    task = Task(
        "taste",
        "no prompt; relevant = the user's held-out ratings >= 4",
        limit=50,
        metric_names=("Recall@10", "NDCG@10", "Recall@50"),
    )
    for user_id, group in held_out.groupby("user_id", sort=True):
        liked = {movie_row[m] for m in group.loc[group["rating"] >= LIKED, "movie_id"]}
        if int(user_id) not in user_row:
            task.skipped["user has no training ratings"] += 1
        elif not liked:
            task.skipped["no held-out rating >= 4"] += 1
        else:
            task.requests.append(EvalRequest("", int(user_id)))
            task.relevant.append(liked)
    return task


def liked_targets(
    held_out: pd.DataFrame, user_row: dict[int, int], task: Task, per_user: int, rng: random.Random
) -> Iterator[tuple[int, int]]:
    """(user id, movie id) of up to `per_user` seeded held-out liked movies per user with training ratings."""
    liked = held_out[held_out["rating"] >= LIKED]
    for user_id, group in liked.groupby("user_id", sort=True):
        if int(user_id) not in user_row:
            task.skipped["user has no training ratings"] += len(group)
            continue
        chosen = sorted(group["movie_id"].tolist())
        rng.shuffle(chosen)
        for movie_id in chosen[:per_user]:
            yield int(user_id), int(movie_id)


def mood_taste_task(
    held_out: pd.DataFrame,
    user_row: dict[int, int],
    movies: list[Movie],
    movie_row: dict[int, int],
    variant: str,
    seed: int = 13,
    per_user: int = 3,
) -> Task:
    """A prompt made from a held-out liked movie's own genres (or one of its keywords); target = that movie."""
    rng = random.Random(seed)
    task = Task(
        f"mood+taste ({variant})",
        f"prompt from a held-out liked movie's {'genres' if variant == 'genres' else 'keywords'}; "
        f"target = that movie; up to {per_user} per user",
        limit=100,
        metric_names=("Hit@10", "MRR@100"),
    )
    for user_id, movie_id in liked_targets(held_out, user_row, task, per_user, rng):
        movie = movies[movie_row[movie_id]]
        if variant == "genres":
            prompt = genre_prompt(movie.genres) if movie.genres else None
        else:
            prompt = keyword_prompt(rng.choice(sorted(movie.keywords))) if movie.keywords else None
        if prompt is None:
            task.skipped[f"target has no {variant}"] += 1
            continue
        task.requests.append(EvalRequest(prompt, int(user_id)))
        task.relevant.append({movie_row[movie_id]})
    return task


def mood_only_task(movies: list[Movie], seed: int = 29, keywords: int = 60, min_movies: int = 15) -> Task:
    """Anonymous prompts from TMDB genres and keywords; relevant = movies carrying that genre/keyword."""
    rng = random.Random(seed)
    task = Task(
        "mood only",
        f"anonymous; prompts from each genre with >= {min_movies} movies and {keywords} "
        f"seeded keywords with >= {min_movies} movies; relevant = movies carrying it",
        limit=10,
        metric_names=("Precision@10", "NDCG@10"),
    )
    by_genre: dict[str, set[int]] = {}
    by_keyword: dict[str, set[int]] = {}
    for i, m in enumerate(movies):
        for g in m.genres:
            by_genre.setdefault(g, set()).add(i)
        for k in m.keywords:
            by_keyword.setdefault(k.lower(), set()).add(i)
    for genre in sorted(by_genre):
        if len(by_genre[genre]) >= min_movies:
            task.requests.append(EvalRequest(genre_prompt((genre,)), None))
            task.relevant.append(by_genre[genre])
    frequent = sorted(k for k, rows in by_keyword.items() if len(rows) >= min_movies)
    for keyword in rng.sample(frequent, min(keywords, len(frequent))):
        task.requests.append(EvalRequest(keyword_prompt(keyword), None))
        task.relevant.append(by_keyword[keyword])
    return task


def everyday_mood_taste_task(
    held_out: pd.DataFrame,
    user_row: dict[int, int],
    movies: list[Movie],
    movie_row: dict[int, int],
    prompts: dict[str, tuple[str, ...]],
    label: str,
    seed: int = 17,
    per_user: int = 3,
    anonymous: bool = False,
) -> Task:
    """An everyday wording (movierec.evaluation.paraphrases) of one of a held-out liked movie's genres;
    target = that movie. anonymous=True asks without the user: what would someone asking this way like?"""
    rng = random.Random(seed)
    name = "mood, anonymous" if anonymous else "mood+taste"
    task = Task(
        f"{name} (everyday, {label})",
        f"an everyday wording ({label} set) of one of a held-out liked movie's genres"
        f"{', asked without the user' if anonymous else ''}; target = that movie; "
        f"up to {per_user} per user",
        limit=100,
        metric_names=("Hit@10", "MRR@100"),
    )
    for user_id, movie_id in liked_targets(held_out, user_row, task, per_user, rng):
        genres = [g for g in movies[movie_row[movie_id]].genres if g in prompts]
        if not genres:
            task.skipped["target has no genre with wordings"] += 1
            continue
        task.requests.append(
            EvalRequest(rng.choice(prompts[rng.choice(sorted(genres))]), None if anonymous else int(user_id))
        )
        task.relevant.append({movie_row[movie_id]})
    return task


def everyday_mood_only_task(
    movies: list[Movie], prompts: dict[str, tuple[str, ...]], label: str, min_movies: int = 15
) -> Task:
    """Anonymous everyday wordings of each genre with >= min_movies movies; relevant = the genre's movies."""
    task = Task(
        f"mood only (everyday, {label})",
        f"anonymous; every everyday wording ({label} set) of each genre with >= {min_movies} movies; "
        "relevant = movies carrying that genre",
        limit=10,
        metric_names=("Precision@10", "NDCG@10"),
    )
    by_genre: dict[str, set[int]] = {}
    for i, m in enumerate(movies):
        for g in m.genres:
            by_genre.setdefault(g, set()).add(i)
    for genre in sorted(prompts):
        if len(by_genre.get(genre, ())) < min_movies:
            task.skipped[f"genre with < {min_movies} movies"] += len(prompts[genre])
            continue
        for prompt in prompts[genre]:
            task.requests.append(EvalRequest(prompt, None))
            task.relevant.append(by_genre[genre])
    return task
