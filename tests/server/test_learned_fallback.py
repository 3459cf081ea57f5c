"""The learned ranker through a real server, and the fallback when its model file is broken or gone."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from conftest import wait_serving

from movierec.clients.client import RecommenderClient
from movierec.embedding import Encoder
from movierec.server.app import create_server
from movierec.settings import Settings
from movierec.v1 import recommender_pb2 as pb
from movierec.v1 import recommender_pb2_grpc as pb_grpc

pytestmark = pytest.mark.slow


def serve(settings: Settings, encoder: Encoder, ask: Callable[[pb_grpc.RecommenderStub], object]) -> object:
    server, port = create_server(settings, "127.0.0.1:0", encoder=encoder)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            wait_serving(channel)
            return ask(pb_grpc.RecommenderStub(channel))
    finally:
        server.stop(None)


def taste_and_mood(stub: pb_grpc.RecommenderStub) -> tuple[pb.IndexInfo, pb.RecommendResponse, pb.RecommendResponse]:
    return (
        stub.GetIndexInfo(pb.GetIndexInfoRequest(), timeout=10),
        stub.Recommend(pb.RecommendRequest(user_id=3, limit=10), timeout=30),
        stub.Recommend(pb.RecommendRequest(user_id=3, prompt="a comedy", limit=10), timeout=30),
    )


def taste_and_mood_of(port: int) -> tuple[pb.IndexInfo, pb.RecommendResponse, pb.RecommendResponse]:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        return taste_and_mood(pb_grpc.RecommenderStub(channel))


def copy_index(sample_settings: Settings, to: Path) -> tuple[Settings, Path]:
    shutil.copytree(sample_settings.index.index_dir, to)
    version = (to / "CURRENT").read_text().strip()
    return sample_settings.replace(index_dir=to), to / version


def test_the_learned_ranker_serves_prompt_less_requests_of_known_users(sample_server: tuple[grpc.Server, int]) -> None:
    with RecommenderClient(f"127.0.0.1:{sample_server[1]}") as client:
        assert client.index_info().ranker == "learned"
    info, taste, mood = taste_and_mood_of(sample_server[1])
    assert info.ranker == "learned"
    assert len(taste.movies) == 10 and all("baseline" in m.signals for m in taste.movies)
    for m in taste.movies:  # the parts still add up to the score
        assert sum(m.signals.values()) == pytest.approx(m.score, abs=1e-3)
    assert [m.score for m in taste.movies] == sorted((m.score for m in taste.movies), reverse=True)
    assert not any("baseline" in m.signals for m in mood.movies)  # a mood keeps the weighted sum


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_a_broken_model_falls_back_to_the_weighted_sum_and_the_server_keeps_serving(
    damage: str, tmp_path: Path, sample_settings: Settings, encoder: Encoder, caplog: pytest.LogCaptureFixture
) -> None:
    settings, version = copy_index(sample_settings, tmp_path / "index")
    weighted = serve(sample_settings.replace(ranker="weighted_sum"), encoder, taste_and_mood)
    if damage == "corrupt":
        with open(version / "learned.npz", "r+b") as f:
            f.seek(40)
            f.write(b"\x00garbage\x00")
    else:
        (version / "learned.npz").unlink()
    with caplog.at_level(logging.WARNING):
        info, taste, mood = serve(settings, encoder, taste_and_mood)
    expected = "checksum does not match" if damage == "corrupt" else "missing"
    assert any("learned ranker not loaded" in r.getMessage() and expected in r.getMessage() for r in caplog.records)
    assert info.ranker.startswith("weighted sum") and expected in info.ranker
    # Exactly the weighted sum's lists, for the request the model would have answered and for the others.
    assert [m.movie_id for m in taste.movies] == [m.movie_id for m in weighted[1].movies]
    assert [m.movie_id for m in mood.movies] == [m.movie_id for m in weighted[2].movies]
    assert len(taste.movies) == 10 and not any("baseline" in m.signals for m in taste.movies)
    assert weighted[0].ranker == "weighted sum (setting ranker)"
