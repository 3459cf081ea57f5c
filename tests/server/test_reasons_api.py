"""Reasons in words over a real gRPC channel (movierec.reasons), and in the command-line client's table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from conftest import call

from movierec.reasons import GROUP_HIGH_FIT

pytestmark = pytest.mark.slow
GROUP_OPENINGS = (
    "A strong match for everyone in the group",
    "Among the best matches of ",
    "In the top half for everyone in the group",
    "Picked for the group",
)


@pytest.mark.parametrize(
    "fields",
    [
        {"prompt": "something cozy and heartwarming"},
        {"user_id": 1},
        {"prompt": "a feel-good romcom", "user_id": 2},
        {"prompt": "a Tom Hanks war film"},
    ],
)
def test_every_recommended_movie_has_a_reason(sample_channel: grpc.Channel, fields: dict) -> None:
    reply = call(sample_channel, limit=10, **fields)
    assert reply.movies
    for m in reply.movies:
        assert m.reason and m.reason[0].isupper() and not m.reason.endswith("."), m.reason
        assert not m.reason.startswith(GROUP_OPENINGS), m.reason  # one user or none: no group reason


def test_like_die_hard_names_die_hard(sample_channel: grpc.Channel) -> None:
    reply = call(sample_channel, prompt="something like Die Hard", limit=10)
    assert [m.title for m in reply.understood.examples] == ["Die Hard"]
    # An anonymous request has no ratings: every "Because you ..." is the example's clause, naming it.
    citing = [m.reason for m in reply.movies if "Because you" in m.reason or "because you" in m.reason]
    assert citing, [m.reason for m in reply.movies]
    assert all("something like Die Hard" in r for r in citing), citing


def test_a_groups_reasons_are_group_reasons_and_true_of_its_fits(sample_channel: grpc.Channel) -> None:
    reply = call(sample_channel, prompt="something fun", user_id=1, group_user_ids=[2, 3], limit=8)
    assert reply.movies
    for m in reply.movies:
        assert m.reason.startswith(GROUP_OPENINGS), m.reason
        fits = dict(m.member_fit)
        if m.reason.startswith("A strong match for everyone in the group"):
            assert min(fits.values()) >= GROUP_HIGH_FIT
        if m.reason.startswith("Among the best matches of user "):
            named = int(m.reason.removeprefix("Among the best matches of user ").split(";")[0])
            assert fits[named] >= GROUP_HIGH_FIT


def test_the_command_line_prints_each_reason_under_its_row(
    sample_server: tuple[grpc.Server, int], sample_channel: grpc.Channel
) -> None:
    cli = [str(Path(sys.executable).parent / "movierec"), "--target", f"127.0.0.1:{sample_server[1]}"]
    done = subprocess.run(
        [*cli, "recommend", "something like Die Hard", "--limit", "5"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr
    reply = call(sample_channel, prompt="something like Die Hard", limit=5)
    lines = done.stdout.splitlines()
    rows = [i for i, line in enumerate(lines) if line.strip()[:1].isdigit()]
    assert len(rows) == len(reply.movies) == 5
    for i, m in zip(rows, reply.movies):
        assert m.title in lines[i] and lines[i + 1] == f"     {m.reason}", lines[i : i + 2]
