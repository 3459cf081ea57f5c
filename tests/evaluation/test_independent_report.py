"""The independent requests in `make eval`'s report: the section, its plot and its targets, from a
synthetic scores dict (no index, no ranker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from movierec.evaluation.harness import DEFAULT, independent_targets, targets
from movierec.evaluation.independent_requests import KINDS, leave_one_family_out, plot
from movierec.evaluation.report import INDEPENDENT_PLOT, independent_section, markdown


def entry(test_value: float = 0.96, multi: float = 0.91, horror: int = 0) -> dict[str, Any]:
    """A report's "independent" entry: every kind at 0.80 on the dev half and `test_value` on the test
    half (multi at `multi`), one dev and one test family per kind, `horror` kids cases with a Horror film."""
    by_kind: dict[str, float] = {}
    for kind in KINDS:
        test = multi if kind == "multi" else test_value
        for half, value in (("dev", 0.80), ("test", test)):
            by_kind[f"{kind} / {half}"] = value
            for who in ("anonymous", "users"):
                by_kind[f"{kind} / {half} / {who}"] = value
    by_family = {f"a-{k}-{h}": by_kind[f"{k} / {h}"] for k in KINDS for h in ("dev", "test")}
    families = {f"a-{k}-{h}": (k, h) for k in KINDS for h in ("dev", "test")}
    kids = [
        {
            "request": "something for my five-year-old",
            "half": "test",
            "user_id": None,
            "rows": [3],
            "titles": ["Alien (1979)"],
        }
    ] * horror
    return {
        "dataset": "seed",
        "ranker": DEFAULT,
        "requests": 70,
        "families": {"dev": 7, "test": 7},
        "cases": 210,
        "skipped": 0,
        "scores": {
            "by_kind": by_kind,
            "by_family": by_family,
            "leave_one_family_out": leave_one_family_out(by_family, families),
            "kids_horror": kids,
            "kids_cases": 12,
        },
    }


def test_the_section_shows_both_halves_kids_horror_the_plot_and_leave_one_family_out() -> None:
    lines = independent_section({"independent": entry(horror=1)}, ["eval.png", INDEPENDENT_PLOT])
    text = "\n".join(lines)
    assert lines[0] == "## Understanding on independently written requests (seed, test-split index)"
    assert "| kind | dev, anonymous | dev, users | test, anonymous | test, users |" in lines
    assert "| negation | 0.80 | 0.80 | 0.96 | 0.96 |" in lines
    assert "| multi | 0.80 | 0.80 | 0.91 | 0.91 |" in lines
    assert "12 cases, both halves; **1** returned a Horror film" in text
    assert '- "something for my five-year-old" (test, user None): Alien (1979)' in lines
    assert f"![independent requests by kind and half]({INDEPENDENT_PLOT})" in lines
    assert "| era | 1 | 0.80 | 1 | 0.96 | 0.96 (a-era-test) | 0.80 (a-era-dev, dev) |" in lines
    assert "**the test half is the result**" in text
    # no plot written: no link to one
    assert not any(INDEPENDENT_PLOT in line for line in independent_section({"independent": entry()}, []))
    assert independent_section({}, [INDEPENDENT_PLOT]) == []  # a run without the set has no section


def test_the_whole_report_renders_the_section_and_embeds_the_plot_only_there() -> None:
    report = {"settings": {}, "seconds": 1.0, "splits": [], "independent": entry(horror=2)}
    report["targets"] = targets(report)
    text = markdown(report, ["eval.png", INDEPENDENT_PLOT])
    assert text.count(f"]({INDEPENDENT_PLOT})") == 1
    assert "## Understanding on independently written requests" in text
    assert (
        "| seed | independent requests, kids (both halves, 12 cases): cases with a Horror film in the top 10 = 0 "
        "| 2.0000 | 0.0000 | **NO** |" in text
    )


def test_targets_test_half_each_kind_multi_lower_and_no_kids_horror() -> None:
    met = independent_targets({"independent": entry()})
    assert len(met) == 2 * len(KINDS) + 1 and all(t["met"] for t in met)
    assert all("test half" in t["target"] for t in met[:-1])
    multi = [t for t in met if "several at once (multi)" in t["target"]]
    assert [t["bound"] for t in multi] == [0.90, 0.90]
    assert {t["bound"] for t in met[:-1]} - {0.90} == {0.95}
    missed = {t["target"]: t for t in independent_targets({"independent": entry(0.94, 0.89, horror=1)})}
    assert not any(t["met"] for t in missed.values())
    assert (
        missed["independent requests, test half, era (users): share of the top 10 satisfying it >= 0.95"]["value"]
        == 0.94
    )
    # the dev half does not count: perfect dev, short test still fails
    low_test = entry(0.5)
    assert not independent_targets({"independent": low_test})[0]["met"]
    # a kind with no test case is not met (there is nothing to have passed)
    empty = entry()
    for who in ("anonymous", "users"):
        del empty["scores"]["by_kind"][f"era / test / {who}"]
    era = [t for t in independent_targets({"independent": empty}) if ", era (" in t["target"]]
    assert [(t["value"], t["met"]) for t in era] == [("no cases", False)] * 2
    assert independent_targets({}) == []


def test_the_plot_is_written(tmp_path: Path) -> None:
    path = tmp_path / INDEPENDENT_PLOT
    plot(entry()["scores"]["by_kind"], path, "independent requests")
    assert path.read_bytes().startswith(b"\x89PNG")


def test_the_held_out_authors_have_their_own_section() -> None:
    from movierec.evaluation.report import holdout_section

    held = entry(horror=1)
    held["families"] = {"dev": 0, "test": 14}
    lines = holdout_section({"independent_holdout": held})
    text = "\n".join(lines)
    assert lines[0] == "### Held-out authors" and "never tuned on" in text  # an entry without a title
    assert "| negation | 0.80 | 0.80 | 0.96 | 0.96 |" in lines and "**1** returned a Horror film" in text
    assert holdout_section({}) == []


def test_the_held_out_sets_are_well_formed() -> None:
    from movierec.evaluation.independent_requests import HELD_OUT_SETS, load_requests

    for folder, _, _ in HELD_OUT_SETS:
        held = load_requests(folder)
        assert len(held) >= 200 and {r.kind for r in held} == set(KINDS), folder
        assert len({r.author for r in held}) == 2, folder
