"""SearchMovies and GetMovie over a real gRPC channel, and `movierec search` / `movierec movie` in another
process, on the bundled sample."""

from __future__ import annotations

import csv
import subprocess
import sys

import grpc
import pytest
from conftest import SAMPLE_DATA

from movierec.clients.client import RecommenderClient
from movierec.v1 import recommender_pb2 as pb
from movierec.v1 import recommender_pb2_grpc as pb_grpc

pytestmark = pytest.mark.slow


def sample_row(title: str) -> dict[str, str]:
    with open(SAMPLE_DATA / "tmdb_5000_movies.csv", newline="") as f:
        return next(row for row in csv.DictReader(f) if row["title"] == title)


def test_search_and_details(sample_server: tuple[grpc.Server, int]) -> None:
    _, port = sample_server
    inception = sample_row("Inception")
    with RecommenderClient(f"127.0.0.1:{port}") as client:
        found = client.search("inceptoin", limit=3)
        assert found[0].movie_id == int(inception["id"]) and len(found) <= 3
        assert found[0].score is not None and all(0 < m.score <= 1 for m in found if m.score is not None)
        movie = client.movie(int(inception["id"]))
    assert movie.title == "Inception" and movie.year == int(inception["release_date"][:4])
    assert movie.overview == " ".join(inception["overview"].split()) and movie.tagline == inception["tagline"]
    assert movie.runtime == int(float(inception["runtime"])) and "Christopher Nolan" in movie.directors
    assert 0 < len(movie.cast) <= 5 and movie.language == "en" and movie.vote_count == int(inception["vote_count"])


@pytest.mark.parametrize(
    "method, request_, code, words",
    [
        ("SearchMovies", pb.SearchMoviesRequest(query="  "), grpc.StatusCode.INVALID_ARGUMENT, ["query is empty"]),
        ("SearchMovies", pb.SearchMoviesRequest(query="x" * 201), grpc.StatusCode.INVALID_ARGUMENT, ["201", "200"]),
        ("SearchMovies", pb.SearchMoviesRequest(query="toy", limit=51), grpc.StatusCode.INVALID_ARGUMENT, ["51"]),
        ("GetMovie", pb.GetMovieRequest(movie_id=987654321), grpc.StatusCode.NOT_FOUND, ["987654321"]),
    ],
)
def test_bad_catalogue_requests(
    sample_channel: grpc.Channel, method: str, request_: object, code: grpc.StatusCode, words: list[str]
) -> None:
    with pytest.raises(grpc.RpcError) as e:
        getattr(pb_grpc.RecommenderStub(sample_channel), method)(request_, timeout=30)
    assert e.value.code() == code and all(w in e.value.details() for w in words), e.value.details()


def test_search_and_movie_on_the_command_line(sample_server: tuple[grpc.Server, int]) -> None:
    _, port = sample_server
    cli = [sys.executable, "-m", "movierec.clients.cli", "--target", f"127.0.0.1:{port}"]
    found = subprocess.run([*cli, "search", "toy story", "--limit", "3"], capture_output=True, text=True, timeout=120)
    assert found.returncode == 0, found.stderr
    lines = found.stdout.splitlines()
    assert len(lines) == 3 and "Toy Story (1995)" in lines[0] and lines[0].split()[0] == sample_row("Toy Story")["id"]
    shown = subprocess.run([*cli, "movie", sample_row("Toy Story")["id"]], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and "Toy Story (1995)" in shown.stdout and "directed by John Lasseter" in shown.stdout
    missing = subprocess.run([*cli, "movie", "987654321"], capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "NOT_FOUND" in missing.stderr


def test_a_list_with_details(sample_channel: grpc.Channel) -> None:
    stub = pb_grpc.RecommenderStub(sample_channel)
    plain = stub.Recommend(pb.RecommendRequest(prompt="a space adventure", limit=5), timeout=30)
    detailed = stub.Recommend(pb.RecommendRequest(prompt="a space adventure", limit=5, with_details=True), timeout=30)
    assert [m.movie_id for m in plain.movies] == [m.movie_id for m in detailed.movies]
    assert not any(m.HasField("details") for m in plain.movies)
    for m in detailed.movies:
        d = m.details
        row = sample_row(m.title)
        assert d.movie_id == m.movie_id and d.runtime == int(float(row["runtime"])) and d.directors
        overview = " ".join(row["overview"].split())
        # the first sentence: where the overview starts, ending a sentence (or the whole overview)
        assert overview.startswith(d.overview) and d.overview
        assert d.overview == overview or d.overview[-1] in ".!?"


@pytest.mark.parametrize(
    "text, first",
    [
        ("One. Two.", "One."),
        ("Mr. Smith goes to Washington. He stays.", "Mr. Smith goes to Washington."),
        ("No end here", "No end here"),
        ("Is it? Yes.", "Is it?"),
        ("A 2.5 hour epic. Then more.", "A 2.5 hour epic."),
        ("Mrs. Doubtfire is a nanny. Then more.", "Mrs. Doubtfire is a nanny."),
        ("Army Capt. John Miller leads them. Then more.", "Army Capt. John Miller leads them."),
        ("Written by J. R. Tolkien. More.", "Written by J. R. Tolkien."),
    ],
)
def test_first_sentence(text: str, first: str) -> None:
    from movierec.server.convert import first_sentence

    assert first_sentence(text) == first


def test_details_on_the_command_line(sample_server: tuple[grpc.Server, int]) -> None:
    _, port = sample_server
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "movierec.clients.cli",
            "--target",
            f"127.0.0.1:{port}",
            "recommend",
            "an animated movie about toys",
            "--limit",
            "3",
            "--details",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    with RecommenderClient(f"127.0.0.1:{port}") as client:
        listed = client.recommend("an animated movie about toys", limit=3, with_details=True).movies
    text = " ".join(done.stdout.split())  # as the terminal wrapped it
    for m in listed:
        assert m.details is not None and f"{m.details.runtime} min" in text and m.details.directors[0] in text
        assert " ".join(m.details.overview.split()[:6]) in text
