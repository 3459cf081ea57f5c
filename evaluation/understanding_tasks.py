"""Tasks that measure understanding of free text: constraints honoured, real conversations answered.

- constraints: the hand-written everyday requests of `constraint_requests`, anonymous and for real
  users; score = the share of the top 10 that satisfies the request's check (and carries the asked
  genre), over min(10, the movies that could satisfy it and the user has not rated).
- conversations: ReDial openings (`conversations`); Recall@10 and @50 of the movies the human
  recommender suggested.

Reference rankers that read the raw text (no understanding stage) live here too: plain cosine
to the whole text, cosine plus log(votes), BM25 over the movie texts (`bm25s`), and for
conversations the item-item neighbours of the movies the seeker named.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from movierec.artifact import IndexArtifact
from movierec.domain import Movie
from movierec.evaluation import metrics
from movierec.evaluation.constraint_requests import KINDS, Check
from movierec.evaluation.conversations import Conversations
from movierec.evaluation.rankers import EvalRanker, EvalRequest, MemoEncoder, user_item_matrix
from movierec.understanding import normalise


# -- reference rankers that read the raw text ------------------------------------------------------
class _TextScorer:
    name = "text reference"

    def __init__(self, index: IndexArtifact):
        self.index = index
        self.x = user_item_matrix(index)

    def text_scores(self, prompts: list[str]) -> np.ndarray:  # (B, n_movies)
        raise NotImplementedError

    def rank(self, requests: Sequence[EvalRequest], limit: int) -> list[list[int]]:
        scores = self.text_scores([r.prompt for r in requests]).astype(np.float64)
        out = []
        for r, s in zip(requests, scores):
            row = self.index.user_row.get(r.user_id) if r.user_id is not None else None
            if row is not None:
                s[self.x[row] > 0] = -np.inf
            out.append(np.argsort(-s, kind="stable")[:limit].tolist())
        return out


def _z(x: np.ndarray) -> np.ndarray:
    std = x.std(axis=-1, keepdims=True)
    return (x - x.mean(axis=-1, keepdims=True)) / np.where(std > 1e-9, std, 1.0)


class PlainCosine(_TextScorer):
    """The bare encoder: cosine of every movie to the whole request text."""

    name = "cosine"

    def __init__(self, index: IndexArtifact, encoder: MemoEncoder, votes_weight: float = 0.0):
        super().__init__(index)
        self.encoder = encoder
        self.votes_weight = votes_weight
        if votes_weight:
            self.name = "cosine+log(votes)"
        self.log_votes = _z(np.log1p(np.array([m.vote_count for m in index.movies], dtype=np.float64)))

    def text_scores(self, prompts: list[str]) -> np.ndarray:
        cosine = self.encoder.encode(prompts) @ self.index.movie_vectors.T
        return _z(cosine) + self.votes_weight * self.log_votes if self.votes_weight else cosine


class BM25(_TextScorer):
    """BM25 (bm25s) over each movie's title, overview, genres, keywords and credits."""

    name = "BM25"

    def __init__(self, index: IndexArtifact, texts: list[str]):
        import bm25s

        super().__init__(index)
        self.bm25 = bm25s.BM25()
        self.bm25.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)

    def text_scores(self, prompts: list[str]) -> np.ndarray:
        import bm25s

        tokens = bm25s.tokenize(prompts, stopwords="en", show_progress=False, return_ids=False)
        return np.stack([self.bm25.get_scores(t) for t in tokens])


# -- constraints -----------------------------------------------------------------------------------
@dataclass
class ConstraintCase:
    kind: str
    prompt: str
    check: Check
    user_id: int | None
    satisfiable: int  # movies that satisfy the check and the user has not rated


def satisfies(movie: Movie, row: int, check: Check, title_rows: dict[str, list[int]], movies: list[Movie]) -> bool:
    genres = set(movie.genres)
    if "genre" in check and check["genre"] not in genres:
        return False
    if check.get("kids") and (not genres & {"Family", "Animation"} or "Horror" in genres):
        return False
    if genres & set(check.get("exclude_genres", ())):
        return False
    if "person" in check and normalise(check["person"]) not in {normalise(p) for p in (*movie.cast, *movie.directors)}:
        return False
    if "year_min" in check and not movie.year >= check["year_min"]:
        return False
    if "year_max" in check and not 0 < movie.year <= check["year_max"]:
        return False
    if "runtime_max" in check and not 0 < movie.runtime <= check["runtime_max"]:
        return False
    if "languages" in check and movie.language not in check["languages"]:
        return False
    if movie.language in check.get("exclude_languages", ()):
        return False
    if "like" in check:
        target = title_rows.get(normalise(check["like"]), [])
        if not target or row in target or not genres & set(movies[target[0]].genres):
            return False
    return True


@dataclass
class ConstraintTask:
    cases: list[ConstraintCase] = field(default_factory=list)
    ok: list[np.ndarray] = field(default_factory=list)  # per case: bool (n_movies,) satisfies the check
    skipped: Counter[str] = field(default_factory=Counter)

    def score(self, ranker: EvalRanker) -> dict[str, float]:
        ranked = ranker.rank([EvalRequest(c.prompt, c.user_id) for c in self.cases], 10)
        by: dict[str, list[float]] = {}
        for case, ok, rows in zip(self.cases, self.ok, ranked):
            value = sum(bool(ok[r]) for r in rows[:10]) / min(10, case.satisfiable)
            who = "anonymous" if case.user_id is None else "users"
            for key in (f"{case.kind} ({who})", case.kind, who, "all"):
                by.setdefault(key, []).append(value)
        return {key: float(np.mean(v)) for key, v in by.items()}


def constraint_task(index: IndexArtifact, users: int = 3, seed: int = 41) -> ConstraintTask:
    """Every request anonymously and for `users` seeded real users with at least 20 ratings."""
    movies = index.movies
    title_rows: dict[str, list[int]] = {}
    for row, m in enumerate(movies):
        title_rows.setdefault(normalise(m.title), []).append(row)
    counts = np.diff(index.rated_ptr)
    eligible = [int(index.user_ids[j]) for j in np.flatnonzero(counts >= 20)]
    chosen = random.Random(seed).sample(eligible, min(users, len(eligible)))
    task = ConstraintTask()
    for kind, requests in KINDS.items():
        for prompt, check in requests:
            ok = np.array([satisfies(m, i, check, title_rows, movies) for i, m in enumerate(movies)])
            for user_id in (None, *chosen):
                possible = ok.copy()
                if user_id is not None:
                    possible[index.rated(index.user_row[user_id])] = False
                if not possible.any():
                    task.skipped[f"{kind}: no catalogue movie satisfies it"] += 1
                    continue
                task.cases.append(ConstraintCase(kind, prompt, check, user_id, int(possible.sum())))
                task.ok.append(ok)
    return task


# -- conversations ---------------------------------------------------------------------------------
class NamedNeighbours:
    """Item-item cosine neighbours (who rated what) of the movies the seeker named; popularity without any."""

    name = "item-item neighbours of named movies"

    def __init__(self, index: IndexArtifact, named: dict[str, list[int]]):
        x = user_item_matrix(index)
        norms = np.sqrt(x.sum(axis=0)) + 1e-9
        self.sim = (x.T @ x) / norms[:, None] / norms[None, :]
        np.fill_diagonal(self.sim, 0.0)
        self.popularity = x.sum(axis=0)
        self.named = named

    def rank(self, requests: Sequence[EvalRequest], limit: int) -> list[list[int]]:
        out = []
        for r in requests:
            rows = self.named.get(r.prompt, [])
            scores = self.sim[rows].sum(axis=0) + 1e-6 * self.popularity if rows else self.popularity.astype(float)
            scores = scores.astype(np.float64)
            scores[rows] = -np.inf
            out.append(np.argsort(-scores, kind="stable")[:limit].tolist())
        return out


@dataclass
class ConversationTask:
    """Conversations as a task with `score(ranker)`, for tuning beside the ratings tasks."""

    conversations: Conversations

    def score(self, ranker: EvalRanker) -> dict[str, float]:
        return conversation_scores(self.conversations, ranker)


def conversation_scores(conversations: Conversations, ranker: EvalRanker) -> dict[str, float]:
    requests = [EvalRequest(text, None) for text in conversations.requests]
    ranked = ranker.rank(requests, 50)
    out: dict[str, list[float]] = {"Recall@10": [], "Recall@50": []}
    for rows, relevant in zip(ranked, conversations.relevant):
        out["Recall@10"].append(metrics.recall_at(rows, relevant, 10))
        out["Recall@50"].append(metrics.recall_at(rows, relevant, 50))
    return {k: float(np.mean(v)) for k, v in out.items()}


def describe(task: ConstraintTask) -> dict[str, Any]:
    kinds = {kind: len(requests) for kind, requests in KINDS.items()}
    return {"requests": sum(kinds.values()), "per kind": kinds, "cases": len(task.cases), "skipped": dict(task.skipped)}
