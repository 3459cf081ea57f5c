"""`make demo`: build an index, start the server, query it through the command-line client, stop.

Every step runs the real console scripts in their own processes, as a user would.
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
REQUESTS = [
    ["recommend", "a thrilling action flick", "--limit", "5"],
    ["recommend", "a comedy, nothing romantic, from the 90s", "--limit", "5"],
    ["recommend", "something like Die Hard but not so violent", "--limit", "5"],
    ["recommend", "a feel-good romcom", "--user", "1", "--limit", "5"],
    ["recommend", "an animated movie about toys that come to life", "--limit", "5"],
    ["recommend", "--genre", "Science Fiction", "--year-max", "1999", "--max-runtime", "130", "--limit", "5"],
    # A movie night for three: one list, and how well each movie fits each of them.
    ["recommend", "something fun tonight", "--group", "1,2,3", "--limit", "5"],
    # Finding a movie by what you remember of it, then what it is; a list with each movie's details.
    ["search", "inceptoin", "--limit", "3"],
    ["movie", "27205"],
    ["recommend", "a mind-bending space adventure", "--details", "--limit", "3"],
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def step(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def _top_movie(cli: list[str | Path], request: list[str]) -> int:
    """The id of the first movie the server recommends (through the Python client)."""
    from movierec.clients.client import RecommenderClient

    target = cli[cli.index("--target") + 1]
    with RecommenderClient(str(target)) as client:
        return client.recommend(user_id=int(request[request.index("--user") + 1]), limit=1).movies[0].movie_id


def _http_demo(port: int) -> None:
    """A search and a recommendation through the HTTP/JSON API, as `curl` would send them."""
    import json
    import urllib.request

    base = f"http://127.0.0.1:{port}"
    with urllib.request.urlopen(f"{base}/v1/movies?q=inceptoin&limit=1", timeout=30) as reply:
        found = json.load(reply)["movies"][0]["movie"]
    print(f"GET /v1/movies?q=inceptoin -> {found['title']} ({found['year']}), id {found['movie_id']}")
    body = json.dumps({"prompt": "a heist movie", "limit": 3}).encode()
    request = urllib.request.Request(f"{base}/v1/recommend", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        movies = json.load(reply)["movies"]
    print(
        'POST /v1/recommend {"prompt": "a heist movie", "limit": 3} -> '
        + "; ".join(f"{m['title']} ({m['reason']})" for m in movies)
    )
    bad = urllib.request.Request(
        f"{base}/v1/recommend",
        data=b'{"prompt": "a comedy", "limit": 500}',
        headers={"Content-Type": "application/json"},
    )
    try:
        urllib.request.urlopen(bad, timeout=30)
    except urllib.error.HTTPError as e:
        print(f'POST /v1/recommend {{"prompt": "a comedy", "limit": 500}} -> {e.code} {e.read().decode()}')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="movierec-demo", description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--reports", type=Path, default=Path("reports"), help="where the page's screenshots go")
    args = parser.parse_args(argv)
    target = f"127.0.0.1:{args.port or free_port()}"
    http_port = free_port()

    # Each demo starts from the data alone: ratings given in an earlier demo are dropped.
    for stale in args.index_dir.glob("feedback.sqlite*"):
        stale.unlink()
    step(f"building an index of {args.data_dir} in {args.index_dir}")
    subprocess.run([BIN / "movierec-index", "--data-dir", args.data_dir, "--index-dir", args.index_dir], check=True)

    step(f"starting the server on {target}")
    server = subprocess.Popen(
        [BIN / "movierec-serve", "--index-dir", args.index_dir, "--address", target, "--http-port", str(http_port)]
    )
    try:
        cli: list[str | Path] = [BIN / "movierec", "--target", target]
        if subprocess.run([*cli, "wait", "--for", "120"]).returncode != 0:
            print("the server did not become ready", file=sys.stderr)
            return 1
        subprocess.run([*cli, "info"], check=True)
        for request in REQUESTS:
            step("movierec " + " ".join(f'"{a}"' if " " in a else a for a in request))
            subprocess.run([*cli, *request], check=True)
        step(
            "a movie night talked through (movierec chat --group 1,2,3): user 2 rules out scary films, "
            "user 3 names a favourite, then they react to the list"
        )
        chat = "\n".join(
            [
                "1: something funny tonight",
                "2: nothing scary for me please",
                "3: I loved Groundhog Day (1993)",
                "/seen 1",
                "/no 2",
                "/quit",
            ]
        )
        subprocess.run([*cli, "chat", "--group", "1,2,3", "--limit", "5"], input=chat, text=True, check=True)
        step("feedback: user 1's list, then they rate its first movie, then their next list")
        subprocess.run([*cli, "recommend", "--user", "1", "--limit", "5"], check=True)
        first = _top_movie(cli, ["recommend", "--user", "1", "--limit", "5"])
        subprocess.run([*cli, "rate", "1", str(first), "5", "--request-id", "demo-1"], check=True)
        subprocess.run([*cli, "recommend", "--user", "1", "--limit", "5"], check=True)
        step("user 1 has already seen the first movie of that list: it leaves their lists (no rating implied)")
        seen = _top_movie(cli, ["recommend", "--user", "1", "--limit", "5"])
        subprocess.run([*cli, "seen", "1", str(seen), "--request-id", "demo-2"], check=True)
        subprocess.run([*cli, "recommend", "--user", "1", "--limit", "5"], check=True)
        subprocess.run([*cli, "user", "1", "--limit", "3"], check=True)
        step("a constraint read wrongly is dropped: the same request without its years")
        subprocess.run(
            [*cli, "recommend", "a comedy, nothing romantic, from the 90s", "--drop", "1990-1999", "--limit", "5"],
            check=True,
        )
        step(f"the same service over HTTP/JSON (http://127.0.0.1:{http_port}/v1/..., OpenAPI at /openapi.json)")
        _http_demo(http_port)
        step(
            f"the movie-night page (http://127.0.0.1:{http_port}/) in Chromium: {args.reports}/page-desktop.png, "
            "page-phone.png"
        )
        from movierec.clients.page_screenshots import take_screenshots

        take_screenshots(f"http://127.0.0.1:{http_port}/", args.reports, users=[1, 2])
        step("bad requests get a clear status")
        subprocess.run([*cli, "recommend", "--limit", "500", "anything"])
        subprocess.run([*cli, "recommend", "anything", "--year-min", "2000", "--year-max", "1990"])
        subprocess.run([*cli, "recommend", "anything", "--group", "1,2,999999"])
        subprocess.run([*cli, "chat", "--group", "1,2"], input="x" * 1001 + "\n", text=True)  # a turn too long
    finally:
        step("stopping the server")
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
