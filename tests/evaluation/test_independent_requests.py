"""The independently written request set: well formed, its families split before any tuning, the kids check,
its scores by kind and family (leave one family out)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from movierec.domain import Movie
from movierec.evaluation.independent_requests import (
    KINDS,
    IndependentCase,
    IndependentRequest,
    IndependentTask,
    leave_one_family_out,
    load_requests,
    split_families,
)
from movierec.evaluation.rankers import EvalRequest
from movierec.evaluation.understanding_tasks import satisfies

CHECK_KEYS = {"genre", "exclude_genres", "person", "year_min", "year_max", "runtime_max", "languages", "kids"}


def test_the_shipped_set_is_well_formed_and_each_kind_has_families_in_both_halves() -> None:
    requests = load_requests()
    assert len(requests) >= 400
    assert {r.kind for r in requests} == set(KINDS)
    families = {r.family for r in requests}
    split = split_families(requests)
    for kind in KINDS:
        kind_families = {r.family for r in requests if r.kind == kind}
        assert len(kind_families) >= 10, kind
        halves = Counter(split[f] for f in kind_families)
        assert halves["test"] >= halves["dev"] >= len(kind_families) // 2, (kind, halves)
    assert set(split) == families
    for r in requests:
        assert r.check and set(r.check) <= CHECK_KEYS, r
        assert r.family.startswith(f"{r.author}-{r.kind}-"), r
    assert len({r.request for r in requests}) == len(requests)  # no request twice


def test_the_split_depends_only_on_the_family_names() -> None:
    def made(families: list[str]) -> list[IndependentRequest]:
        return [
            IndependentRequest("x", "era", f, "", f"request {i}", {"year_max": 1999}) for i, f in enumerate(families)
        ]

    names = [f"x-era-{i}" for i in range(10)]
    first = split_families(made(names))
    assert first == split_families(made(names[::-1] * 2))  # order and repeats change nothing
    assert Counter(first.values()) == {"dev": 5, "test": 5}


def test_a_malformed_line_is_named(tmp_path: Path) -> None:
    (tmp_path / "author_z.jsonl").write_text(json.dumps({"author": "z", "kind": "era"}) + "\n")
    with pytest.raises(ValueError, match="author_z.jsonl, line 1"):
        load_requests(tmp_path)


@pytest.mark.parametrize(
    "genres, ok",
    [(["Family", "Comedy"], True), (["Animation"], True), (["Animation", "Horror"], False), (["Comedy"], False)],
)
def test_the_kids_check_wants_family_or_animation_and_never_horror(genres: list[str], ok: bool) -> None:
    movie = Movie(movie_id=1, title="t", year=2000, genres=tuple(genres))
    assert satisfies(movie, 0, {"kids": True}, {}, [movie]) is ok


def test_leave_one_family_out_means_each_half_per_kind_and_names_the_lowest_family() -> None:
    by_family = {"x-era-1": 1.0, "x-era-2": 0.5, "x-era-3": 0.8, "x-era-4": 0.2, "x-person-1": 0.4}
    families = {
        "x-era-1": ("era", "dev"),
        "x-era-2": ("era", "dev"),
        "x-era-3": ("era", "test"),
        "x-era-4": ("era", "test"),
        "x-person-1": ("person", "test"),
    }
    lofo = leave_one_family_out(by_family, families)
    assert list(lofo) == ["person", "era", "all"]  # KINDS order, then all
    era = lofo["era"]
    assert (era["dev families"], era["test families"]) == (2, 2)
    assert era["dev mean"] == pytest.approx(0.75) and era["test mean"] == pytest.approx(0.5)
    assert (era["min"], era["min family"], era["min half"]) == (0.2, "x-era-4", "test")
    assert (era["test min"], era["test min family"]) == (0.2, "x-era-4")
    person = lofo["person"]
    assert person["dev families"] == 0 and person["dev mean"] is None  # no development family: no mean
    assert person["test mean"] == pytest.approx(0.4) and person["min family"] == "x-person-1"
    everything = lofo["all"]
    assert everything["dev mean"] == pytest.approx(0.75)
    assert everything["test mean"] == pytest.approx((0.8 + 0.2 + 0.4) / 3)  # each family once
    assert everything["min family"] == "x-era-4"


class _FirstRows:
    """A ranker that answers every request with the catalogue's rows in order."""

    name = "first rows"

    def rank(self, requests: Sequence[EvalRequest], limit: int) -> list[list[int]]:
        return [list(range(limit)) for _ in requests]


def test_score_counts_each_family_once_in_leave_one_family_out_and_names_kids_horror() -> None:
    ok_first_ten = np.arange(20) < 10  # rows 0-9 satisfy it: the ranker's top 10 all do
    ok_last_ten = np.arange(20) >= 10  # none of the top 10 does
    horror = np.arange(20) == 3
    kids = IndependentRequest("x", "audience", "x-audience-1", "", "for my kid", {"kids": True})
    other = IndependentRequest("x", "audience", "x-audience-2", "", "grown-ups only", {"genre": "Drama"})
    cases = [
        IndependentCase(kids, "dev", None, ok_first_ten, horror, 10),
        IndependentCase(kids, "dev", 7, ok_first_ten, horror, 10),
        IndependentCase(other, "test", None, ok_last_ten, horror, 10),
    ]
    scores = IndependentTask(cases).score(_FirstRows())
    assert scores["by_kind"]["audience / dev / users"] == 1.0
    assert scores["by_kind"]["audience / test / anonymous"] == 0.0
    lofo = scores["leave_one_family_out"]["audience"]
    assert (lofo["dev mean"], lofo["test mean"], lofo["min family"]) == (1.0, 0.0, "x-audience-2")
    assert scores["kids_cases"] == 2
    assert [(h["half"], h["user_id"], h["rows"]) for h in scores["kids_horror"]] == [
        ("dev", None, [3]),
        ("dev", 7, [3]),
    ]
