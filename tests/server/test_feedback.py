"""Feedback over a real channel: statuses, live effect, cold start, idempotency, reindex, store failures."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
from conftest import code_of

from movierec.artifact import load_artifact
from movierec.clients.client import RecommenderClient
from movierec.embedding import Encoder
from movierec.indexer.build import build_index
from movierec.server.app import create_server
from movierec.settings import Settings
from movierec.store import SqliteRatingsStore

from processes import free_port

pytestmark = pytest.mark.slow

TOY_STORY = 862


@pytest.mark.parametrize(
    "user, movie, rating, request_id, code, words",
    [
        (1, TOY_STORY, 0.0, "", grpc.StatusCode.INVALID_ARGUMENT, "0.5 to 5.0"),
        (1, TOY_STORY, 5.5, "", grpc.StatusCode.INVALID_ARGUMENT, "0.5 to 5.0"),
        (1, TOY_STORY, 3.3, "", grpc.StatusCode.INVALID_ARGUMENT, "steps of 0.5"),
        (1, TOY_STORY, float("nan"), "", grpc.StatusCode.INVALID_ARGUMENT, "0.5 to 5.0"),
        (0, TOY_STORY, 4.0, "", grpc.StatusCode.INVALID_ARGUMENT, "user_id must be a positive"),
        (-3, TOY_STORY, 4.0, "", grpc.StatusCode.INVALID_ARGUMENT, "user_id must be a positive"),
        (1, 424242424, 4.0, "", grpc.StatusCode.NOT_FOUND, "movie 424242424"),
        (1, TOY_STORY, 4.0, "x" * 129, grpc.StatusCode.INVALID_ARGUMENT, "request_id is 129"),
    ],
)
def test_bad_feedback_gets_a_precise_status(served, user, movie, rating, request_id, code, words) -> None:  # noqa: ANN001
    client, _ = served
    got, details = code_of(client.record_feedback, user, movie, rating, request_id)
    assert got == code and words in details


def test_get_user_statuses(served) -> None:  # noqa: ANN001
    client, _ = served
    assert code_of(client.user, 777777)[0] == grpc.StatusCode.NOT_FOUND
    assert code_of(client.user, 1, 1001)[0] == grpc.StatusCode.INVALID_ARGUMENT
    described = client.user(1, 5)
    assert described.ratings > 5 and len(described.recent) == 5
    assert [r.timestamp for r in described.recent] == sorted((r.timestamp for r in described.recent), reverse=True)


def test_the_next_recommendation_reflects_a_rating(served) -> None:  # noqa: ANN001
    client, settings = served
    index = load_artifact(settings.index.index_dir)
    user = next(
        u
        for u in index.user_ids.tolist()
        if TOY_STORY not in {int(index.movie_ids[r]) for r in index.rated(index.user_row[u])}
    )
    rated = {int(index.movie_ids[r]) for r in index.rated(index.user_row[user])}
    # The ten unrated movies nearest Toy Story: a 5-star Toy Story must lift them in the user's whole
    # list (their mean position; the top 10 alone moves too little to be read on every CPU's rounding).
    closeness = index.movie_vectors @ index.movie_vectors[index.movie_row[TOY_STORY]]
    neighbours = [
        int(index.movie_ids[r]) for r in np.argsort(-closeness) if int(index.movie_ids[r]) not in rated | {TOY_STORY}
    ][:10]
    whole = 100  # the most a request may ask for: the sample's unrated movies nearly all

    def mean_position(result) -> float:  # noqa: ANN001 - a neighbour below the list counts as its end
        order = [m.movie_id for m in result.movies]
        return float(np.mean([order.index(m) if m in order else len(order) for m in neighbours]))

    before = client.recommend(user_id=user, limit=whole)
    count = client.user(user).ratings
    ack = client.record_feedback(user, TOY_STORY, 5.0, "live-1")
    assert not ack.duplicate and ack.ratings == count + 1
    after = client.recommend(user_id=user, limit=whole)
    assert TOY_STORY not in [m.movie_id for m in after.movies]
    print(f"mean position of Toy Story's neighbours: {mean_position(before):.1f} -> {mean_position(after):.1f}")
    assert mean_position(after) < mean_position(before)
    assert client.user(user, 1).recent[0].movie_id == TOY_STORY
    assert TOY_STORY in [m.movie_id for m in client.recommend(user_id=user, limit=100, include_rated=True).movies]


def test_a_new_user_arrives_with_their_first_rating(served) -> None:  # noqa: ANN001
    client, _ = served
    newcomer = 990_001
    assert code_of(client.recommend, "a comedy", user_id=newcomer)[0] == grpc.StatusCode.NOT_FOUND
    users_before = client.index_info().users
    ack = client.record_feedback(newcomer, TOY_STORY, 4.5)
    assert ack.ratings == 1
    described = client.user(newcomer)
    assert described.ratings == 1 and described.recent[0].movie_id == TOY_STORY and described.recent[0].rating == 4.5
    taste_only = client.recommend(user_id=newcomer, limit=5)
    assert len(taste_only.movies) == 5 and TOY_STORY not in [m.movie_id for m in taste_only.movies]
    assert all("taste" in m.signals for m in taste_only.movies)
    assert client.index_info().users == users_before + 1
    assert len(client.recommend("a duel at high noon on the frontier").movies) == 10  # anonymous requests still work


def test_retries_with_the_same_request_id_are_stored_once(served) -> None:  # noqa: ANN001
    client, settings = served
    first = client.record_feedback(2, TOY_STORY, 3.5, "retry-me")
    again = client.record_feedback(2, TOY_STORY, 3.5, "retry-me")
    assert not first.duplicate and again.duplicate and again.ratings == first.ratings
    assert again.timestamp == first.timestamp
    code, details = code_of(client.record_feedback, 2, TOY_STORY, 1.0, "retry-me")
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "already used" in details
    import sqlite3

    with sqlite3.connect(settings.index.index_dir / "feedback.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM feedback WHERE request_id = 'retry-me'").fetchone()[0] == 1


def test_reindex_folds_feedback_in_and_feedback_during_it_is_kept(served, encoder: Encoder) -> None:  # noqa: ANN001
    client, settings = served
    newcomer = 990_002
    client.record_feedback(newcomer, TOY_STORY, 5.0)
    before = client.index_info().index_version
    build_index(settings, encoder=encoder, progress=False)  # reads the store: the newcomer is in the index now
    client.record_feedback(newcomer, 603, 4.0)  # after the build read the store: replayed on swap
    deadline = time.monotonic() + 20
    while client.index_info().index_version == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.index_info().index_version != before
    index = load_artifact(settings.index.index_dir)
    assert newcomer in index.user_row and index.manifest.store_seq >= 1
    described = client.user(newcomer)
    assert described.ratings == 2
    assert {r.movie_id for r in described.recent} == {TOY_STORY, 603}
    assert not {TOY_STORY, 603} & {m.movie_id for m in client.recommend(user_id=newcomer, limit=100).movies}


def _mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        message = f"cannot mount a tmpfs (needs root): {done.stderr.decode().strip()}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.mark.parametrize("failure", ["disk full", "read-only"])
def test_a_store_that_cannot_be_written_is_unavailable_and_recommendations_go_on(
    tmp_path: Path, sample_settings: Settings, encoder: Encoder, failure: str
) -> None:
    mount = tmp_path / "small-disk"
    _mount_tmpfs(mount, "512k")
    server = None
    try:
        settings = sample_settings.replace(store_path=mount / "feedback.sqlite", reload_interval_s=0.1)
        if failure == "read-only":  # a store with a rating in it, on a disk that is then made read-only
            store = SqliteRatingsStore(settings.store.store_path)
            store.record(3, TOY_STORY, 4.0)
            store.close()
            subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        server, port = create_server(settings, "127.0.0.1:0", encoder=encoder)
        with RecommenderClient(f"127.0.0.1:{port}") as client:
            assert client.wait_until_serving(30)
            if failure == "disk full":
                assert client.record_feedback(3, TOY_STORY, 4.0).ratings > 0  # the store works at first
                with open(mount / "filler", "wb") as f:
                    try:
                        while True:
                            f.write(b"\0" * 65536)
                            f.flush()
                    except OSError:
                        pass
            code, details = code_of(client.record_feedback, 3, 603, 4.5)
            assert code == grpc.StatusCode.UNAVAILABLE
            # A full disk fails the write; a read-only one fails already when the store is opened for it.
            expected = "cannot be written (the disk is full)" if failure == "disk full" else "(it is read-only)"
            assert expected in details and "the feedback was not recorded" in details, details
            assert len(client.recommend("a comedy", user_id=3).movies) == 10
            assert client.serving()
    finally:
        if server is not None:
            server.stop(None)
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_postgresql_store_that_cannot_be_reached_is_unavailable_and_recommendations_go_on(
    sample_settings: Settings, encoder: Encoder
) -> None:
    url = f"postgresql://movierec:do-not-show-me@127.0.0.1:{free_port()}/movierec"  # nothing listens there
    server, port = create_server(sample_settings.replace(store_url=url), "127.0.0.1:0", encoder=encoder)
    try:
        with RecommenderClient(f"127.0.0.1:{port}") as client:
            assert client.wait_until_serving(30)
            code, details = code_of(client.record_feedback, 3, TOY_STORY, 4.0)
            assert code == grpc.StatusCode.UNAVAILABLE
            assert "postgresql://movierec:***@127.0.0.1" in details and "cannot be reached" in details, details
            assert "the feedback was not recorded, retry later with the same request_id" in details, details
            assert "do-not-show-me" not in details
            assert len(client.recommend("a comedy", user_id=3).movies) == 10
    finally:
        server.stop(None)
