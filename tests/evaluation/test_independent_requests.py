"""The independently written request set: well formed, its families split before any tuning, the kids check."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from movierec.domain import Movie
from movierec.evaluation.independent_requests import KINDS, IndependentRequest, load_requests, split_families
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
        return [IndependentRequest("x", "era", f, "", f"request {i}", {"year_max": 1999})
                for i, f in enumerate(families)]

    names = [f"x-era-{i}" for i in range(10)]
    first = split_families(made(names))
    assert first == split_families(made(names[::-1] * 2))  # order and repeats change nothing
    assert Counter(first.values()) == {"dev": 5, "test": 5}


def test_a_malformed_line_is_named(tmp_path: Path) -> None:
    (tmp_path / "author_z.jsonl").write_text(json.dumps({"author": "z", "kind": "era"}) + "\n")
    with pytest.raises(ValueError, match="author_z.jsonl, line 1"):
        load_requests(tmp_path)


@pytest.mark.parametrize("genres, ok", [(["Family", "Comedy"], True), (["Animation"], True),
                                        (["Animation", "Horror"], False), (["Comedy"], False)])
def test_the_kids_check_wants_family_or_animation_and_never_horror(genres: list[str], ok: bool) -> None:
    movie = Movie(movie_id=1, title="t", year=2000, genres=tuple(genres))
    assert satisfies(movie, 0, {"kids": True}, {}, [movie]) is ok
