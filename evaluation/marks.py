"""Not-interested marks as a weak negative, evaluated: does counting the movies a user marks "not for
me" against what is watched with them (`not_interested_weight`) make their next list better, or is
leaving those movies out all a mark should do?

Protocol, per user of a temporal split's training index: the movies the user rated below DISLIKED in
the held-out (newer) part are movies they would call "not for me"; a seeded half of them is marked
NOT_INTERESTED (Recommender.apply, the path feedback takes) and the other half is kept to see whether
movies like them leave the list too. Users need two such movies and a held-out liked one (rating >= 4);
the rest are skipped (counted). The user's next list (prompt-less, as the server ranks it) is scored:
NDCG@10 and Recall@10 of the held-out liked movies, and the share of the top 10 that are the unmarked
disliked half. Each `not_interested_weight` is compared with 0 (the marks only leave the list), paired
per user; "marks ignored" (no marks at all) is the reference that shows what leaving them out is worth.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from movierec.artifact import IndexArtifact
from movierec.domain import RecommendQuery
from movierec.embedding import TextEncoder
from movierec.evaluation import metrics
from movierec.evaluation.groups import ranked_rows
from movierec.evaluation.tasks import LIKED
from movierec.recommender import Recommender
from movierec.settings import Settings
from movierec.store import NOT_INTERESTED, StoredRating

LIST_LENGTH = 10
DISLIKED = 3.0  # a held-out rating below this: a movie the user would say "not for me" to
# The weights tried on validation (the setting not_interested_weight).
WEIGHTS = (0.0, 0.1, 0.25, 0.5, 1.0)
IGNORED = "marks ignored"
METRICS = ("NDCG@10", "Recall@10", "disliked share@10")


def _lists(recommender: Recommender, users: Sequence[int], progress: bool, label: str) -> list[list[int]]:
    """Each user's prompt-less list as movie rows (the server's path, in chunks)."""
    queries = [RecommendQuery(prompt="", user_id=u, limit=LIST_LENGTH) for u in users]
    return ranked_rows(recommender, queries, label if progress else "")


def _scores(lists: list[list[int]], liked: list[set[int]], disliked: list[set[int]]) -> dict[str, np.ndarray]:
    return {
        "NDCG@10": np.array([metrics.ndcg_at(r, g, 10) for r, g in zip(lists, liked)]),
        "Recall@10": np.array([metrics.recall_at(r, g, 10) for r, g in zip(lists, liked)]),
        "disliked share@10": np.array([len(set(r[:10]) & d) / 10 for r, d in zip(lists, disliked)]),
    }


def evaluate(
    index: IndexArtifact,
    encoder: TextEncoder,
    settings: Settings,
    held_out: pd.DataFrame,
    weights: Sequence[float] = WEIGHTS,
    progress: bool = True,
    label: str = "marks",
    seed: int = 17,
) -> dict[str, Any]:
    """Scores per weight (and IGNORED), the paired difference of each weight against 0, and the users."""
    from movierec.evaluation.harness import paired_difference

    config = settings.ranking
    base = Recommender(index, encoder, config.replace(not_interested_weight=0.0))  # type: ignore[arg-type]
    row_of, user_row = index.movie_row, index.user_row
    rng = random.Random(seed)
    kept, liked, marked, disliked = [], [], [], []
    skipped = {
        "fewer than two held-out ratings below 3": 0,
        "no held-out rating >= 4": 0,
        "user has no training ratings": 0,
    }
    for user, group in held_out.groupby("user_id", sort=True):
        if int(user) not in user_row:
            skipped["user has no training ratings"] += 1
            continue
        rated = {row_of[int(m)]: float(r) for m, r in zip(group["movie_id"], group["rating"]) if int(m) in row_of}
        bad = sorted(r for r, v in rated.items() if v < DISLIKED)
        good = {r for r, v in rated.items() if v >= LIKED}
        if len(bad) < 2:
            skipped["fewer than two held-out ratings below 3"] += 1
        elif not good:
            skipped["no held-out rating >= 4"] += 1
        else:
            rng.shuffle(bad)
            kept.append(int(user))
            liked.append(good)
            marked.append(set(bad[: len(bad) // 2]))
            disliked.append(set(bad[len(bad) // 2 :]))
    per_weight: dict[str, dict[str, np.ndarray]] = {
        IGNORED: _scores(_lists(base, kept, progress, f"{label}: {IGNORED}"), liked, disliked)
    }
    seq = 0
    for user, rows in zip(kept, marked):
        for row in sorted(rows):
            seq += 1
            base.apply(StoredRating(seq, user, int(index.movie_ids[row]), 0.0, 0, kind=NOT_INTERESTED))
    for weight in weights:
        weighted = base.with_config(config.replace(not_interested_weight=weight))
        lists = _lists(weighted, kept, progress, f"{label}: weight {weight:g}")
        assert not any(set(r) & m for r, m in zip(lists, marked)), "a marked movie came back"
        per_weight[f"{weight:g}"] = _scores(lists, liked, disliked)
    zero = per_weight[f"{0.0:g}"]
    return {
        "users": len(kept),
        "marks": sum(len(m) for m in marked),
        "skipped": skipped,
        "scores": {
            name: {m: float(v.mean()) if len(v) else 0.0 for m, v in s.items()} for name, s in per_weight.items()
        },
        "against 0": {name: paired_difference(s, zero) for name, s in per_weight.items() if name != f"{0.0:g}"},
    }


def choose(result: dict[str, Any], metric: str = "NDCG@10") -> float:
    """The weight with the best `metric` on validation among those not worse than 0 beyond noise (a mark
    is meant to count against its kind of movie, as long as the list does not get worse for it)."""
    best, best_value = 0.0, result["scores"][f"{0.0:g}"][metric]
    for name, against in result["against 0"].items():
        if name == IGNORED:
            continue
        value = result["scores"][name][metric]
        if value > best_value and against[metric]["high"] >= 0:
            best, best_value = float(name), value
    return best


def main(argv: list[str] | None = None) -> int:
    """Development run on the validation split (the training part split again by time), with the table."""
    from movierec.embedding import settings_encoder
    from movierec.evaluation.harness import Dataset, build_training_index, load_dataset
    from movierec.evaluation.splits import temporal_split
    from movierec.settings import load_settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])  # the first paragraph, whole
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--work-dir", type=Path, default=Path("var/eval-marks"))
    parser.add_argument("--split", choices=("validation", "test"), default="validation")
    args = parser.parse_args(argv)
    settings = load_settings(None, data_dir=args.data_dir)
    dataset = Dataset(args.data_dir.name, settings)
    _, ratings, _ = load_dataset(dataset)
    train, held_out = temporal_split(ratings)
    if args.split == "validation":
        train, held_out = temporal_split(train)
    encoder = settings_encoder(settings, args.work_dir)
    index = build_training_index(
        dataset,
        train,
        args.work_dir / f"{dataset.name}-{args.split}",
        args.work_dir / "cache",
        encoder,
        f"temporal split '{args.split}': training part only",
        True,
        settings,
    )
    result = evaluate(index, encoder, settings, held_out)
    print(f"{result['users']} users, {result['marks']} marks; skipped {result['skipped']}")
    for name, scores in result["scores"].items():
        against = result["against 0"].get(name, {})
        print(
            f"{name:>14}  "
            + "  ".join(
                f"{m} {v:.4f}"
                + (
                    f" ({against[m]['difference']:+.4f} [{against[m]['low']:+.4f}, {against[m]['high']:+.4f}])"
                    if m in against
                    else ""
                )
                for m, v in scores.items()
            )
        )
    print(f"chosen on NDCG@10: {choose(result):g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
