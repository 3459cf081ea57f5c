"""Group recommendation, evaluated: synthetic groups drawn from the ratings, scored member by member.

A group is two or more users of the temporal split's training index who each have held-out liked
movies (rating >= 4 in the newer part). Groups are random, or similar: a seeded random user and
others drawn from the users whose taste vectors are nearest theirs. A group's list (prompt-less:
the group's taste alone) is scored for each member against that member's own held-out liked movies:
NDCG@10 (the mean over members, and the worst member's), and zero-recall@20, the share of members
with none of their liked movies in the top 20 (Kaya, Bridge and Tintarev, RecSys 2020).

References: popularity (the most rated movies no member has rated), a random member's own list
(the single-user ranking, without what the others rated), and the strategies of movierec.group.
Strategies are compared on the same member scores (Ranker.member_scores); the default is also
run through Recommender.recommend_batch, the path the server takes. A diagnostic row (HEADROOM) bounds
what re-ranking those scores for fairness could gain: GFAR told each member's held-out activity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from movierec.artifact import IndexArtifact
from movierec.domain import RecommendQuery
from movierec.evaluation import metrics
from movierec.evaluation.tasks import LIKED
from movierec.group import STRATEGY_NAMES, aggregate, expected_coverage_greedy, utilities
from movierec.ranking import GroupRankRequest, RankingConfig
from movierec.recommender import Recommender

SIZES = (2, 3, 5)
KINDS = ("random", "similar")
LIST_LENGTH = 20
CHUNK = 32
POPULARITY, RANDOM_MEMBER = "popularity", "a random member's own list"
# A diagnostic, not a ranker: how much a fairness-aware re-ranking of the same member scores could gain
# if it knew which members are easy to serve (many held-out liked movies) and which are hard.
HEADROOM = "bound: GFAR told each member's held-out liked count (uses test labels; not a ranker)"
# Its grid (the best per size is reported, so the bound is optimistic): a member's chance of liking their
# r-th candidate (r from 0) is HEADROOM_SCALE x (liked / 8) ** power x (r + 1) ** -HEADROOM_DECAY.
HEADROOM_SCALES = (0.05, 0.1, 0.2, 0.3)
HEADROOM_POWERS = (0.5, 1.0)
HEADROOM_DECAY = 0.3
# The strategies' parameters tried on validation (movierec.group).
MISERY_THRESHOLDS = (0.1, 0.2, 0.3, 0.5)
PLEASURE_WEIGHTS = (0.25, 0.5, 1.0)
FAIR_DEPTHS = (10, 20, 40, 80)


@dataclass(frozen=True)
class StrategyConfig:
    strategy: str
    misery_threshold: float = 0.2
    fair_depth: int = 20
    pleasure_weight: float = 0.5


@dataclass(frozen=True)
class Group:
    kind: str
    members: tuple[int, ...]  # user ids
    liked: tuple[frozenset, ...]  # per member, held-out liked movie rows


def eligible_users(held_out: pd.DataFrame, index: IndexArtifact) -> dict[int, frozenset]:
    """user id -> held-out liked movie rows, for the users the index knows who have some."""
    liked = held_out[held_out["rating"] >= LIKED]
    out = {}
    for user_id, frame in liked.groupby("user_id", sort=True):
        rows = frozenset(index.movie_row[m] for m in frame["movie_id"] if m in index.movie_row)
        if int(user_id) in index.user_row and rows:
            out[int(user_id)] = rows
    return out


def make_groups(
    held_out: pd.DataFrame,
    index: IndexArtifact,
    sizes: Sequence[int] = SIZES,
    per_kind: int = 300,
    seed: int = 0,
    neighbours: int = 4,
) -> dict[int, list[Group]]:
    """Seeded groups per size: `per_kind` random ones and `per_kind` of similar users (a random user and
    size - 1 drawn from their `neighbours * (size - 1)` nearest eligible users by taste vector)."""
    liked = eligible_users(held_out, index)
    users = np.array(sorted(liked))
    vectors = index.user_vectors[[index.user_row[u] for u in users]]  # (U, d)
    out: dict[int, list[Group]] = {}
    for size in sizes:
        if len(users) < max(size, 2):
            out[size] = []
            continue
        rng = np.random.default_rng([seed, size])
        groups = [
            Group("random", tuple(int(u) for u in rng.choice(users, size, replace=False)), ()) for _ in range(per_kind)
        ]
        pool = min(len(users) - 1, neighbours * (size - 1))
        for _ in range(per_kind):
            first = int(rng.integers(len(users)))
            closeness = vectors @ vectors[first]
            closeness[first] = -np.inf
            nearest = np.argpartition(-closeness, pool - 1)[:pool]
            others = rng.choice(nearest, size - 1, replace=False)
            groups.append(Group("similar", (int(users[first]), *(int(users[o]) for o in others)), ()))
        out[size] = [Group(g.kind, g.members, tuple(liked[u] for u in g.members)) for g in groups]
    return out


def group_metrics(ranked: Sequence[int], group: Group) -> dict[str, float]:
    """Mean and worst member's NDCG@10 and zero-recall@20 of one group's list (movie rows, best first)."""
    ndcg = [metrics.ndcg_at(ranked, set(liked), 10) for liked in group.liked]
    top = set(ranked[:LIST_LENGTH])
    zero = [not (top & liked) for liked in group.liked]
    return {
        "NDCG@10 (member mean)": float(np.mean(ndcg)),
        "NDCG@10 (worst member)": float(np.min(ndcg)),
        "zero-recall@20": float(np.mean(zero)),
    }


def summarise(values: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([v[k] for v in values])) for k in values[0]} if values else {}


def group_queries(groups: Sequence[Group], strategy: str = "") -> list[RecommendQuery]:
    return [
        RecommendQuery(prompt="", user_id=None, limit=LIST_LENGTH, group_user_ids=g.members, group_strategy=strategy)
        for g in groups
    ]


def strategy_configs() -> dict[str, StrategyConfig]:
    """Every strategy with each of its parameters tried on validation: label -> config."""
    configs = {"average": StrategyConfig("average"), "least misery": StrategyConfig("least_misery")}
    for t in MISERY_THRESHOLDS:
        configs[f"average without misery (bottom {t:.0%})"] = StrategyConfig(
            "average_without_misery", misery_threshold=t
        )
    for w in PLEASURE_WEIGHTS:
        configs[f"average and best (weight {w:g})"] = StrategyConfig("average_and_best", pleasure_weight=w)
    for d in FAIR_DEPTHS:
        configs[f"fair (depth {d})"] = StrategyConfig("fair", fair_depth=d)
    assert {c.strategy for c in configs.values()} == set(STRATEGY_NAMES)
    return configs


def label_of(config: RankingConfig) -> str:
    """The label of the configs' entry that a ranking config's group settings select."""
    for label, c in strategy_configs().items():
        if c.strategy == config.group_strategy and (
            (c.strategy == "average_without_misery" and abs(c.misery_threshold - config.group_misery_threshold) < 1e-9)
            or (c.strategy == "average_and_best" and abs(c.pleasure_weight - config.group_pleasure_weight) < 1e-9)
            or (c.strategy == "fair" and c.fair_depth == config.group_fair_depth)
            or c.strategy in ("average", "least_misery")
        ):
            return label
    return f"{config.group_strategy} (not among the configs tried)"


def member_score_lists(recommender: Recommender, groups: Sequence[Group]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each group's (candidate rows (C,), member scores (M, C)), through the production ranking."""
    out = []
    for start in range(0, len(groups), CHUNK):
        queries = group_queries(groups[start : start + CHUNK])
        requests = recommender.rank_requests(queries, [recommender.understand(q) for q in queries])
        out.extend(recommender.ranker.member_scores([r for r in requests if isinstance(r, GroupRankRequest)]))
    return out


def evaluate(
    recommender: Recommender,
    index: IndexArtifact,
    groups: dict[int, list[Group]],
    default: str,
    progress: bool,
    label: str = "",
    configs: dict[str, StrategyConfig] | None = None,
    references: bool = True,
) -> dict[str, Any]:
    """Scores per size, per kind (and "all"), per ranker: every strategy config on the same member scores;
    with `references`, also popularity, a random member's list and the default through the server's path
    (named `default`)."""
    configs = strategy_configs() if configs is None else configs
    out: dict[str, Any] = {}
    for size, size_groups in groups.items():
        lists: dict[str, list[list[int]]] = {}
        scored = member_score_lists(recommender, size_groups) if size_groups else []
        for name, c in configs.items():
            lists[name] = []
            for candidates, scores in scored:
                picked = aggregate(
                    scores,
                    np.ones(len(candidates), bool),
                    c.strategy,
                    LIST_LENGTH,
                    c.misery_threshold,
                    c.fair_depth,
                    c.pleasure_weight,
                )
                lists[name].append(candidates[picked.positions].tolist())
        if references:
            lists[HEADROOM] = headroom_lists(scored, size_groups)
            lists[default] = production_lists(recommender, size_groups)
            lists[RANDOM_MEMBER] = random_member_lists(recommender, index, size_groups, seed=size)
            lists[POPULARITY] = popularity_lists(index, size_groups, recommender.ranker.movie_ratings)
        entry: dict[str, Any] = {"groups": {k: sum(g.kind == k for g in size_groups) for k in KINDS}}
        for kind in (*KINDS, "all"):
            chosen = [i for i, g in enumerate(size_groups) if kind in ("all", g.kind)]
            entry[kind] = {
                name: summarise([group_metrics(lists[name][i], size_groups[i]) for i in chosen]) for name in lists
            }
        out[str(size)] = entry
        if progress:
            tqdm.write(f"groups {label} size {size}: {len(size_groups)} groups")
    return out


def headroom_lists(scored: Sequence[tuple[np.ndarray, np.ndarray]], groups: Sequence[Group]) -> list[list[int]]:
    """HEADROOM's lists: for each setting of its grid, GFAR on the member scores with each member's chance
    scaled by their held-out liked count; the setting with the lowest zero-recall@20 over these groups."""
    best: tuple[float, list[list[int]]] | None = None
    prepared = []
    for (candidates, scores), g in zip(scored, groups):
        rank = np.argsort(np.argsort(-scores, axis=1, kind="stable"), axis=1)  # 0 = best (M, C)
        mean = utilities(scores, np.ones(len(candidates), bool)).mean(axis=0)
        liked = np.array([len(x) for x in g.liked], float)
        prepared.append((candidates, rank, mean, liked))
    for scale in HEADROOM_SCALES:
        for power in HEADROOM_POWERS:
            lists = []
            for candidates, rank, mean, liked in prepared:
                chance = np.minimum(scale * (liked[:, None] / 8.0) ** power * (rank + 1.0) ** -HEADROOM_DECAY, 0.99)
                lists.append(candidates[expected_coverage_greedy(chance, mean, LIST_LENGTH)[0]].tolist())
            zero = float(np.mean([group_metrics(x, g)["zero-recall@20"] for x, g in zip(lists, groups)]))
            if best is None or zero < best[0]:
                best = (zero, lists)
    return best[1] if best is not None else []


def ranked_rows(recommender: Recommender, queries: Sequence[RecommendQuery], label: str = "") -> list[list[int]]:
    """Each query's list as movie rows, through Recommender.recommend_batch in chunks (a progress bar with
    `label`, when given)."""
    movie_row = recommender.index.movie_row
    out = []
    for start in tqdm(range(0, len(queries), CHUNK), desc=label, disable=not label, leave=False):
        for result in recommender.recommend_batch(list(queries[start : start + CHUNK])):
            out.append([movie_row[m.movie.movie_id] for m in result.movies])
    return out


def production_lists(recommender: Recommender, groups: Sequence[Group], strategy: str = "") -> list[list[int]]:
    return ranked_rows(recommender, group_queries(groups, strategy))


def _rated(index: IndexArtifact, user_id: int) -> np.ndarray:
    return index.rated(index.user_row[user_id])


def random_member_lists(
    recommender: Recommender, index: IndexArtifact, groups: Sequence[Group], seed: int
) -> list[list[int]]:
    """A seeded random member's own single-user list, leaving out what the other members rated."""
    rng = np.random.default_rng(seed)
    queries = []
    for g in groups:
        chosen = g.members[int(rng.integers(len(g.members)))]
        others = np.unique(np.concatenate([_rated(index, u) for u in g.members if u != chosen]))
        queries.append(
            RecommendQuery(
                prompt="",
                user_id=chosen,
                limit=LIST_LENGTH,
                excluded_movie_ids=tuple(int(m) for m in index.movie_ids[others]),
            )
        )
    return ranked_rows(recommender, queries)


def popularity_lists(index: IndexArtifact, groups: Sequence[Group], movie_ratings: np.ndarray) -> list[list[int]]:
    """The most rated movies of the index that no member rated."""
    order = np.argsort(-movie_ratings, kind="stable")
    out = []
    for g in groups:
        rated = np.unique(np.concatenate([_rated(index, u) for u in g.members]))
        out.append(order[~np.isin(order, rated)][:LIST_LENGTH].tolist())
    return out


def choose(validation: dict[str, Any], keep: float = 0.98, within: float = 0.005) -> dict[str, Any]:
    """The validation's choice of strategy: among the configs whose mean-member NDCG@10 keeps `keep` of
    plain averaging's, those within `within` of the lowest zero-recall@20 (sizes pooled; closer than
    that is noise), and of them the highest NDCG@10."""
    configs = strategy_configs()
    sizes = [size for size in validation if validation[size]["all"].get("average")]  # sizes with groups
    pooled = {
        name: {
            m: float(np.mean([validation[size]["all"][name][m] for size in sizes]))
            for m in ("NDCG@10 (member mean)", "zero-recall@20")
        }
        for name in configs
    }
    floor = keep * pooled["average"]["NDCG@10 (member mean)"]
    allowed = [n for n in configs if pooled[n]["NDCG@10 (member mean)"] >= floor]
    lowest = min(pooled[n]["zero-recall@20"] for n in allowed)
    best = max(
        (n for n in allowed if pooled[n]["zero-recall@20"] <= lowest + within),
        key=lambda n: pooled[n]["NDCG@10 (member mean)"],
    )
    return {
        "rule": f"among the strategies keeping >= {keep:.2f} x averaging's mean-member NDCG@10, those within "
        f"{within} of the lowest zero-recall@20, and of them the highest NDCG@10 (sizes pooled)",
        "pooled": pooled,
        "chosen": best,
        "settings": {
            "group_strategy": configs[best].strategy,
            "group_misery_threshold": configs[best].misery_threshold,
            "group_pleasure_weight": configs[best].pleasure_weight,
            "group_fair_depth": configs[best].fair_depth,
        },
    }
