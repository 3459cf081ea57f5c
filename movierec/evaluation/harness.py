"""Runs the evaluation: split, build training indexes with the real indexer, rank, score, tune."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from movierec.artifact import IndexArtifact, load_artifact
from movierec.embedding import Encoder
from movierec.evaluation.rankers import (EaseReference, EvalRanker, EvalRequest, ItemKNN, MemoEncoder,
                                         OriginalDesign, Popularity, ProductionRanker)
from movierec.evaluation.splits import temporal_split
from movierec.evaluation.tasks import Task, mood_only_task, mood_taste_task, taste_task
from movierec.indexer.build import build_index
from movierec.indexer.catalogue import load_catalogue
from movierec.indexer.datafiles import find_data_files
from movierec.indexer.ratings import load_ratings
from movierec.ranking import SIGNALS
from movierec.recommender import Recommender, ranking_config
from movierec.settings import Settings

log = logging.getLogger(__name__)

DEFAULT = "movierec (default)"
# The rankers the mood+taste target compares against ("the best of").
MOOD_TASTE_RIVALS = ("prompt only", "taste only", "EASE", "original design", "z(prompt)+z(EASE)")
TUNING_GRID: dict[str, tuple[float, ...]] = {
    "match": (0.5, 1.0, 2.0, 3.0, 4.0, 6.0),
    "prompt": (0.25, 0.5, 1.0, 2.0),
    "community": (0.0, 0.2, 0.5),
    "taste": (0.0, 0.2, 0.5),
    "quality": (0.0, 0.1, 0.2, 0.5),
}


@dataclass(frozen=True)
class Dataset:
    """A catalogue (data_dir) and a ratings source on it."""

    name: str
    settings: Settings  # data_dir (+ explicit ratings/links paths)


@dataclass
class SplitResult:
    dataset: str
    split: str
    users: int
    train_ratings: int
    held_out_ratings: int
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # task -> {requests, description, skipped, scores}
    seconds: float = 0.0


def load_dataset(dataset: Dataset) -> tuple[list, pd.DataFrame]:
    files = find_data_files(dataset.settings)
    catalogue = load_catalogue(files.movies, files.credits)
    ratings = load_ratings(files.ratings, files.links, catalogue.movie_ids)
    return [e.movie for e in catalogue.entries], ratings.frame


def build_training_index(dataset: Dataset, train: pd.DataFrame, index_dir: Path, cache_dir: Path,
                         encoder: Encoder | MemoEncoder, note: str, progress: bool,
                         settings: Settings | None = None) -> IndexArtifact:
    """Index the catalogue with only the training ratings, through the production indexer."""
    keys = train[["user_id", "movie_id", "timestamp"]]
    base = dataset.settings if settings is None else settings.replace(
        data_dir=dataset.settings.data_dir, ratings_csv=dataset.settings.ratings_csv,
        links_csv=dataset.settings.links_csv)
    settings = base.replace(index_dir=index_dir, cache_dir=cache_dir, keep_versions=0)

    def keep_training(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.merge(keys, on=["user_id", "movie_id", "timestamp"], how="inner")

    build_index(settings, encoder=encoder, progress=progress, ratings_filter=keep_training, ratings_note=note)
    return load_artifact(index_dir)


def make_tasks(held_out: pd.DataFrame, index: IndexArtifact, movies: list, per_user: int = 3) -> dict[str, Task]:
    return {
        "taste": taste_task(held_out, index.user_row, index.movie_row),
        "mood+taste (genres)": mood_taste_task(held_out, index.user_row, movies, index.movie_row, "genres",
                                               per_user=per_user),
        "mood+taste (keywords)": mood_taste_task(held_out, index.user_row, movies, index.movie_row, "keywords"),
        "mood only": mood_only_task(movies),
    }


def rankers(index: IndexArtifact, encoder: MemoEncoder, settings: Settings) -> dict[str, EvalRanker]:
    config = ranking_config(settings)
    recommender = Recommender(index, encoder, config)  # type: ignore[arg-type]  # MemoEncoder is an Encoder
    production: dict[str, EvalRanker] = {
        DEFAULT: ProductionRanker(DEFAULT, recommender),
        "prompt only": ProductionRanker("prompt only", recommender, config.with_weights(prompt=1)),
        "taste only": ProductionRanker("taste only", recommender, config.with_weights(taste=1)),
        "z(prompt)+z(EASE)": ProductionRanker("z(prompt)+z(EASE)", recommender,
                                              config.with_weights(prompt=1, collaborative=1)),
    }
    references: dict[str, EvalRanker] = {
        "popularity": Popularity(index),
        "ItemKNN": ItemKNN(index),
        "EASE": EaseReference(index, settings.ease_lambda),
        "original design": OriginalDesign(index, encoder),
    }
    return {**production, **references}


# Which rankers answer which task: references that need a history are left out of anonymous tasks,
# and prompt-only rankers out of the prompt-less one.
APPLIES = {
    "taste": ("popularity", "ItemKNN", "EASE", "original design", "taste only", DEFAULT),
    "mood+taste (genres)": ("popularity", "ItemKNN", "EASE", "original design", "prompt only", "taste only",
                            "z(prompt)+z(EASE)", DEFAULT),
    "mood+taste (keywords)": ("popularity", "ItemKNN", "EASE", "original design", "prompt only", "taste only",
                              "z(prompt)+z(EASE)", DEFAULT),
    "mood only": ("popularity", "original design", "prompt only", DEFAULT),
}


def evaluate_split(dataset: Dataset, split: str, train: pd.DataFrame, held_out: pd.DataFrame, movies: list,
                   work_dir: Path, encoder: MemoEncoder, settings: Settings, progress: bool) -> tuple[SplitResult, IndexArtifact, dict[str, EvalRanker]]:
    started = time.monotonic()
    index = build_training_index(dataset, train, work_dir / f"{dataset.name}-{split}", work_dir / "cache",
                                 encoder, f"temporal split '{split}': training part only", progress)
    tasks = make_tasks(held_out, index, movies)
    all_rankers = rankers(index, encoder, settings)
    result = SplitResult(dataset.name, split, users=int(train["user_id"].nunique()),
                         train_ratings=len(train), held_out_ratings=len(held_out))
    jobs = [(t, r) for t in tasks for r in APPLIES[t]]
    for task_name, ranker_name in tqdm(jobs, desc=f"{dataset.name}/{split}", disable=not progress):
        task = tasks[task_name]
        entry = result.tasks.setdefault(task_name, {"description": task.description, "requests": len(task.requests),
                                                     "skipped": dict(task.skipped), "scores": {}})
        entry["scores"][ranker_name] = task.score(all_rankers[ranker_name])
    result.seconds = time.monotonic() - started
    return result, index, all_rankers


def objective(scores: dict[str, dict[str, float]], references: dict[str, dict[str, float]]) -> float:
    """The tuning objective: the mean over the three tasks of the default's ratio to its target reference."""
    return (scores["taste"]["NDCG@10"] / references["taste"]["NDCG@10"]
            + scores["mood+taste (genres)"]["Hit@10"] / references["mood+taste (genres)"]["Hit@10"]
            + scores["mood only"]["Precision@10"] / references["mood only"]["Precision@10"]) / 3


def tune(index: IndexArtifact, held_out: pd.DataFrame, movies: list, encoder: MemoEncoder, settings: Settings,
         progress: bool) -> dict[str, Any]:
    """Coordinate ascent over the signal weights on the validation split (collaborative fixed at 1 as the scale)."""
    tasks = make_tasks(held_out, index, movies, per_user=1)  # one mood request per user keeps tuning quick
    tasks = {name: tasks[name] for name in ("taste", "mood+taste (genres)", "mood only")}
    config = ranking_config(settings)
    recommender = Recommender(index, encoder, config)  # type: ignore[arg-type]
    references = {
        "taste": tasks["taste"].score(EaseReference(index, settings.ease_lambda)),
        "mood+taste (genres)": {"Hit@10": max(
            tasks["mood+taste (genres)"].score(r)["Hit@10"] for r in (
                ProductionRanker("z", recommender, config.with_weights(prompt=1, collaborative=1)),
                EaseReference(index, settings.ease_lambda)))},
        "mood only": tasks["mood only"].score(ProductionRanker("p", recommender, config.with_weights(prompt=1))),
    }
    trace: list[dict[str, Any]] = []
    cache: dict[tuple, float] = {}

    def measure(weights: dict[str, float]) -> float:
        key = tuple(sorted(weights.items()))
        if key not in cache:
            ranker = ProductionRanker("candidate", recommender, config.with_weights(**weights))
            scores = {name: task.score(ranker) for name, task in tasks.items()}
            cache[key] = objective(scores, references)
            trace.append({"weights": dict(weights), "objective": cache[key], "scores": scores})
        return cache[key]

    weights = {s: config.weight(s) for s in SIGNALS}
    start = dict(weights)
    best = measure(weights)
    steps = [(s, v) for s, values in TUNING_GRID.items() for v in values]
    for _ in range(2):  # two passes of coordinate ascent; the second rarely moves
        before = dict(weights)
        for signal, value in tqdm(steps, desc="tuning on validation", disable=not progress):
            trial = dict(weights, **{signal: value})
            score = measure(trial)
            if score > best + 1e-6:
                best, weights = score, trial
        if weights == before:
            break
    return {"start": start, "start_objective": cache[tuple(sorted(start.items()))], "best": weights,
            "best_objective": best, "references": references, "trace": trace,
            "defaults_are_best": weights == start}


ABLATION_TASKS = ("taste", "mood+taste (genres)", "mood only")


def ablations(dataset: Dataset, train: pd.DataFrame, held_out: pd.DataFrame, movies: list, work_dir: Path,
              encoder: MemoEncoder, settings: Settings, recommender_rankers: dict[str, EvalRanker],
              index: IndexArtifact, progress: bool) -> dict[str, dict[str, dict[str, float]]]:
    """The default ranking with one ingredient taken out at a time, on the test split."""
    tasks = make_tasks(held_out, index, movies)
    config = ranking_config(settings)
    recommender = Recommender(index, encoder, config)  # type: ignore[arg-type]
    variants: dict[str, EvalRanker] = {DEFAULT: recommender_rankers[DEFAULT]}
    for signal in SIGNALS:
        if config.weight(signal):
            weights = {s: config.weight(s) for s in SIGNALS if s != signal}
            variants[f"without {signal}"] = ProductionRanker(f"without {signal}", recommender,
                                                             config.with_weights(**weights))
    centroid_index = build_training_index(
        dataset, train, work_dir / f"{dataset.name}-test-centroid", work_dir / "cache", encoder,
        "temporal split 'test': training part only; centroid taste vectors", progress,
        settings.replace(taste_vectors="centroid"))
    variants["centroid taste vectors"] = ProductionRanker(
        "centroid taste vectors", Recommender(centroid_index, encoder, config))  # type: ignore[arg-type]
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, ranker in tqdm(variants.items(), desc="ablations", disable=not progress):
        out[name] = {task: tasks[task].score(ranker) for task in ABLATION_TASKS}
    return out


def free_text_examples(ranker: EvalRanker, index: IndexArtifact, prompts: list[str]) -> dict[str, list[str]]:
    lists = ranker.rank([EvalRequest(p, None) for p in prompts], 5)
    return {p: [f"{index.movies[r].title} ({index.movies[r].year})" for r in rows] for p, rows in zip(prompts, lists)}


def run(datasets: list[Dataset], settings: Settings, work_dir: Path, do_tune: bool = True,
        progress: bool = True, encoder: Encoder | None = None) -> dict[str, Any]:
    """The whole evaluation. The first dataset is also split for validation (tuning)."""
    started = time.monotonic()
    encoder = MemoEncoder(encoder or Encoder(settings.model_dir, settings.max_seq_length, settings.embed_batch_size, settings.embed_batch_tokens))
    report: dict[str, Any] = {"settings": {f"weight_{s}": getattr(settings, f"weight_{s}") for s in SIGNALS}
                              | {"candidate_movies": settings.candidate_movies, "similar_users": settings.similar_users,
                                 "ease_lambda": settings.ease_lambda},
                              "splits": [], "tuning": None, "examples": {}}
    for position, dataset in enumerate(datasets):
        movies, ratings = load_dataset(dataset)
        train, test = temporal_split(ratings)
        if position == 0 and do_tune:
            fit, validation = temporal_split(train)
            index = build_training_index(dataset, fit, work_dir / f"{dataset.name}-validation", work_dir / "cache",
                                         encoder, "temporal split 'validation': training part only", progress)
            report["tuning"] = tune(index, validation, movies, encoder, settings, progress)
            report["tuning"]["dataset"] = dataset.name
        result, index, all_rankers = evaluate_split(dataset, "test", train, test, movies, work_dir, encoder,
                                                    settings, progress)
        report["splits"].append(result.__dict__ | {"data": str(dataset.settings.data_dir),
                                                    "ratings": str(find_data_files(dataset.settings).ratings)})
        if position == 0:
            report["ablations"] = {"dataset": dataset.name, "scores": ablations(
                dataset, train, test, movies, work_dir, encoder, settings, all_rankers, index, progress)}
            report["examples"] = free_text_examples(all_rankers[DEFAULT], index, [
                "a thrilling action flick", "a suspenseful detective film", "a feel-good romcom",
                "something feel-good with friends", "an animated movie about toys that come to life"])
    report["seconds"] = time.monotonic() - started
    report["targets"] = targets(report)
    return report


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, checked on every dataset of this run."""
    out = []
    for split in report["splits"]:
        tasks = split["tasks"]
        taste = tasks["taste"]["scores"]
        out.append({"dataset": split["dataset"], "target": "taste: default NDCG@10 >= EASE NDCG@10",
                    "value": taste[DEFAULT]["NDCG@10"], "bound": taste["EASE"]["NDCG@10"],
                    "met": taste[DEFAULT]["NDCG@10"] >= taste["EASE"]["NDCG@10"]})
        for variant in ("genres", "keywords"):
            mood = tasks[f"mood+taste ({variant})"]["scores"]
            rival = max(MOOD_TASTE_RIVALS, key=lambda r: mood[r]["Hit@10"])
            out.append({"dataset": split["dataset"],
                        "target": f"mood+taste ({variant}): default Hit@10 >= 1.15 x best of {', '.join(MOOD_TASTE_RIVALS)}"
                                  f" (best: {rival})",
                        "value": mood[DEFAULT]["Hit@10"], "bound": 1.15 * mood[rival]["Hit@10"],
                        "met": mood[DEFAULT]["Hit@10"] >= 1.15 * mood[rival]["Hit@10"]})
        only = tasks["mood only"]["scores"]
        out.append({"dataset": split["dataset"], "target": "mood only: default Precision@10 >= 1.2 x prompt only",
                    "value": only[DEFAULT]["Precision@10"], "bound": 1.2 * only["prompt only"]["Precision@10"],
                    "met": only[DEFAULT]["Precision@10"] >= 1.2 * only["prompt only"]["Precision@10"]})
    return out
