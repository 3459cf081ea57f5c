"""`movierec`: the command-line client.

movierec recommend "a feel-good romcom" --user 42
movierec recommend "something fun" --group 12,48,301   (one list for three people, each one's fit)
movierec chat --group 12,48                   (talk it through: each line a turn, the list after each)
movierec rate 42 862 4.5 --request-id abc     (user 42 rates Toy Story 4.5)
movierec seen 42 27205                        (user 42 has seen Inception: keep it out of their lists)
movierec not-interested 42 27205 [--undo]     (not for them; --undo takes a mark back)
movierec user 42
movierec search "inceptoin"                   (find a movie's id by its title, typos forgiven)
movierec movie 27205                          (a movie in full)
movierec info
movierec wait --for 60
movierec eval                      (offline evaluation; `make eval`)
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
import textwrap
from typing import Any

import grpc

from movierec import __version__
from movierec.clients.client import ChatTurn, MovieInfo, Recommendations, RecommenderClient, describe_understood

DEFAULT_TARGET = "127.0.0.1:50051"
# The client needs none of the server's code (numpy, torch): the signals' order comes from the answer
# itself, and a strategy's name is checked by the server (INVALID_ARGUMENT lists the names).
STRATEGY_HELP = "average, least_misery, average_without_misery, average_and_best, fair"


def format_table(result: Recommendations, width: int | None = None, members: list[int] | None = None) -> str:
    """A readable ranked table: rank, title (year), genres, score and its parts; for a group, each
    member's fit (0..1: 1 is that member's favourite of the candidates) in place of the parts, in the
    order of `members` (a protobuf map keeps none). Each movie's reason is on an indented line under its row."""
    width = width or shutil.get_terminal_size((110, 24)).columns
    fitted = {u for m in result.movies for u in m.member_fit}
    members = [u for u in dict.fromkeys(members or []) if u in fitted] + sorted(fitted - set(members or []))
    # The parts that move the list most come first; the learned ranker's "baseline" last.
    weight: dict[str, float] = {}
    for m in result.movies:
        for name, value in m.signals.items():
            weight[name] = weight.get(name, 0.0) + abs(value)
    signal_names = [] if members else sorted(weight, key=lambda k: (k == "baseline", -round(weight[k], 6), k))
    columns = [(f"fit {u}"[:7], lambda m, u=u: m.member_fit.get(u)) for u in members] or [
        (n[:7], lambda m, n=n: m.signals.get(n)) for n in signal_names
    ]
    head = f"{'#':>3}  {'title':<40} {'genres':<28} {'score':>6}" + "".join(f" {name:>7}" for name, _ in columns)
    lines = [head, "-" * min(len(head), width)]
    for rank, m in enumerate(result.movies, 1):
        title = f"{m.title} ({m.year})" if m.year else m.title
        genres = ", ".join(m.genres)
        cells = [value(m) for _, value in columns]
        lines.append(
            f"{rank:>3}  {textwrap.shorten(title, 40, placeholder='…'):<40} "
            f"{textwrap.shorten(genres, 28, placeholder='…') if genres else '-':<28} {m.score:>6.2f}"
            + "".join(f" {v:>7.2f}" if v is not None else f" {'':>7}" for v in cells)
        )
        if m.unmet and (rank == 1 or result.movies[rank - 2].unmet != m.unmet):
            lines.insert(
                len(lines) - 1,
                f"     (from here on, too few movies meet everything: these miss "
                f"the {' and '.join(m.unmet)} asked for)",
            )
        if m.reason:  # under its row, indented to the title
            lines += textwrap.wrap(m.reason, max(width, 40), initial_indent="     ", subsequent_indent="       ")
        if m.details is not None:
            d = m.details
            facts = " · ".join(
                f for f in (f"{d.runtime} min" if d.runtime else "", ", ".join(d.directors), ", ".join(d.cast[:3])) if f
            )
            lines += textwrap.wrap(
                f"{facts} — {d.overview}" if d.overview else facts,
                max(width, 40),
                initial_indent="     ",
                subsequent_indent="       ",
            )
    if not result.movies:
        lines.append("  (no movies)")
    if members:
        lines.append(
            f"group strategy: {result.group_strategy}; fit: the share of the group's candidates "
            "that member ranks below the movie"
        )
    lines.append(f"index {result.index_version}")
    return "\n".join(lines)


def describe_movie(m: MovieInfo, width: int = 100) -> str:
    """A movie as a person reads it: title, year, runtime, genres; who made it and is in it; what it is about."""
    facts = [
        f"{m.runtime} min" if m.runtime else "",
        ", ".join(m.genres),
        m.language,
        f"rated {m.vote_average:.1f}/10 by {m.vote_count:,} people" if m.vote_count else "",
    ]
    lines = [f"{m.title} ({m.year or 'year unknown'})  [{m.movie_id}]", "  " + " · ".join(f for f in facts if f)]
    if m.directors:
        lines.append(f"  directed by {', '.join(m.directors)}")
    if m.cast:
        lines.append(f"  with {', '.join(m.cast)}")
    if m.tagline:
        lines.append(f"  “{m.tagline}”")
    if m.overview:
        lines += textwrap.wrap(m.overview, width, initial_indent="  ", subsequent_indent="  ")
    if m.keywords:
        lines.append("  keywords: " + ", ".join(m.keywords[:12]))
    return "\n".join(lines)


def user_ids(text: str) -> list[int]:
    """ "12,48,301" -> [12, 48, 301] (for --group)."""
    try:
        return [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected user ids separated by commas, e.g. 12,48,301; got {text!r}"
        ) from None


# What a reaction command says about result N, as a seeker's reply to it being suggested.
REACTIONS = {"/seen": "seen it", "/no": "not for me", "/like": "I love that one"}
CHAT_HELP = (
    "Each line is a turn: say what you feel like, or react to result N with /seen N, /no N, /like N. "
    'With --group, start a line with a member\'s id and a colon ("12: nothing scary") to say who said '
    "it. /reset starts over, /quit (or end of input) leaves."
)
# The API's limits on a conversation (RecommendRequest.conversation): a long session sends its newest turns.
MAX_TURNS, MAX_CONVERSATION_CHARS = 50, 20_000
_NUMBER = re.compile(r"[0-9]+")


def newest_turns(turns: list[ChatTurn]) -> list[ChatTurn]:
    """The newest turns within the API's limits on their number and their characters in all."""
    kept: list[ChatTurn] = []
    chars = 0
    for turn in reversed(turns):
        if len(kept) == MAX_TURNS or chars + len(turn.text) > MAX_CONVERSATION_CHARS:
            break
        kept.append(turn)
        chars += len(turn.text)
    return kept[::-1]


def chat(
    client: RecommenderClient, lines: Any, user_id: int | None, group: list[int], limit: int, out: Any = sys.stdout
) -> int:
    """The interactive session: every line read from `lines` is a turn (or a command); after each, the list
    for the whole conversation so far and what was understood. Returns the exit status."""
    turns: list[ChatTurn] = []
    shown: Recommendations | None = None
    # Reactions to results by id as well as in words, so they hold whatever the server reads of the title.
    liked: list[int] = []
    excluded: list[int] = []
    people = ([user_id] if user_id is not None else []) + group
    print(CHAT_HELP, file=out)
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        if line == "/reset":
            turns, shown, liked, excluded = [], None, [], []
            print("(a new conversation)", file=out)
            continue
        before = len(turns), len(liked), len(excluded)
        command, _, number = line.partition(" ")
        if command in REACTIONS:
            if shown is None or not _NUMBER.fullmatch(number.strip()) or not 1 <= int(number) <= len(shown.movies):
                print(
                    f"{command} takes the number of a movie in the list shown (1-{len(shown.movies) if shown else 0})",
                    file=out,
                )
                continue
            movie = shown.movies[int(number) - 1]
            turns += [
                ChatTurn("recommender", f"{movie.title} ({movie.year})" if movie.year else movie.title),
                ChatTurn("seeker", REACTIONS[command]),
            ]
            (liked if command == "/like" else excluded).append(movie.movie_id)
        elif line.startswith("/"):
            print(f"unknown command {command!r}. {CHAT_HELP}", file=out)
            continue
        else:
            speaker, colon, said = line.partition(":")
            if colon and _NUMBER.fullmatch(speaker.strip()) and int(speaker) in people:
                turns.append(ChatTurn("seeker", said.strip(), int(speaker)))
            else:
                turns.append(ChatTurn("seeker", line))
        try:
            shown = client.recommend(
                conversation=newest_turns(turns),
                user_id=user_id,
                group_user_ids=group or None,
                limit=limit,
                example_movie_ids=liked or None,
                excluded_movie_ids=excluded or None,
            )
        except grpc.RpcError as e:
            print(f"movierec: {e.code().name}: {e.details()}", file=out)
            # What the server refused is not part of the conversation.
            del turns[before[0] :], liked[before[1] :], excluded[before[2] :]
            continue
        print(f"understood: {describe_understood(shown.understood)}", file=out)
        print(format_table(shown, members=people if len(people) > 1 else None), file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    # The global options are accepted before or after the subcommand ("movierec wait --for 60 --target
    # host:port"): each subcommand's parser carries them too, with no default of its own.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--target",
        default=argparse.SUPPRESS,
        help=f"server host:port, or several replicas separated by commas (calls balanced "
        f"round robin) (default {DEFAULT_TARGET})",
    )
    common.add_argument("--timeout", type=float, default=argparse.SUPPRESS, help="seconds per call (default 30)")
    common.add_argument(
        "--token",
        default=argparse.SUPPRESS,
        help="bearer token for a server with tokens_path (default: $MOVIEREC_TOKEN)",
    )
    common.add_argument(
        "--tls-ca", default=argparse.SUPPRESS, metavar="PEM", help="connect with TLS, trusting the CA in this file"
    )
    common.add_argument(
        "--tls-cert",
        default=argparse.SUPPRESS,
        metavar="PEM",
        help="client certificate, for a server that requires mutual TLS",
    )
    common.add_argument("--tls-key", default=argparse.SUPPRESS, metavar="PEM", help="the client certificate's key")
    parser = argparse.ArgumentParser(prog="movierec", description="Query a movierec server.", parents=[common])
    parser.add_argument("--version", action="version", version=f"movierec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], **kwargs)

    rec = add("recommend", help="ranked movies for a prompt and/or a user")
    rec.add_argument("prompt", nargs="?", default="", help='what you feel like watching, e.g. "a feel-good romcom"')
    rec.add_argument("--user", type=int, help="user id whose taste to follow")
    rec.add_argument(
        "--group",
        type=user_ids,
        default=None,
        metavar="ID,ID,...",
        help="a movie night for several users (with --user, if given): one list, each member's fit",
    )
    rec.add_argument(
        "--strategy",
        default="",
        metavar="NAME",
        help=f"how a group's tastes are combined: {STRATEGY_HELP} (default: the server's)",
    )
    rec.add_argument("--limit", type=int, default=10, help="how many movies (1-100)")
    rec.add_argument("--include-rated", action="store_true", help="keep movies the user already rated")
    rec.add_argument(
        "--details",
        action="store_true",
        help="show each movie's runtime, director, cast and the overview's first sentence",
    )
    rec.add_argument(
        "--genre",
        action="append",
        dest="genres",
        metavar="NAME",
        help="only movies of this genre (repeat for several: any of them)",
    )
    rec.add_argument(
        "--exclude-genre",
        action="append",
        dest="excluded_genres",
        metavar="NAME",
        help="no movie of this genre (repeatable)",
    )
    rec.add_argument(
        "--drop",
        action="append",
        dest="dropped",
        default=[],
        metavar="CONSTRAINT",
        help='leave out a constraint read from the prompt, as `understood` words it ("not Horror", '
        '"1990-1999"; repeatable)',
    )
    rec.add_argument("--year-min", type=int, help="released in or after this year")
    rec.add_argument("--year-max", type=int, help="released in or before this year")
    rec.add_argument("--max-runtime", type=int, metavar="MINUTES", help="at most this long")
    rec.add_argument(
        "--language",
        action="append",
        dest="languages",
        metavar="CODE",
        help="original language, ISO 639-1 (fr, ko, ...; repeatable)",
    )
    rec.add_argument(
        "--like",
        action="append",
        dest="example_movie_ids",
        type=int,
        metavar="MOVIE_ID",
        help="a movie (TMDB id) to use as an example (repeatable)",
    )
    rec.add_argument(
        "--exclude",
        action="append",
        dest="excluded_movie_ids",
        type=int,
        metavar="MOVIE_ID",
        help="a movie (TMDB id) never to return (repeatable)",
    )
    talk = add("chat", help="an interactive conversation: each line a turn, the list after each")
    talk.add_argument("--user", type=int, help="user id whose taste to follow")
    talk.add_argument(
        "--group",
        type=user_ids,
        default=[],
        metavar="ID,ID,...",
        help="a movie night for several users: one list, each member's fit",
    )
    talk.add_argument("--limit", type=int, default=10, help="how many movies (1-100)")
    rate = add("rate", help="record a rating (0.5-5.0 in steps of 0.5)")
    rate.add_argument("user", type=int)
    rate.add_argument("movie", type=int, help="TMDB movie id")
    rate.add_argument("rating", type=float)
    rate.add_argument("--request-id", default="", help="makes a retry idempotent")
    for name, what in (("seen", "has seen"), ("not-interested", "is not interested in")):
        mark = add(name, help=f"mark a movie the user {what}: it leaves their lists (not a rating)")
        mark.add_argument("user", type=int)
        mark.add_argument("movie", type=int, help="TMDB movie id")
        mark.add_argument("--undo", action="store_true", help="take the mark back")
        mark.add_argument("--request-id", default="", help="makes a retry idempotent")
    find = add("search", help="find movies by title (typos forgiven), year or people")
    find.add_argument("query", help='e.g. "inceptoin", "inception 2010", "nolan dreams"')
    find.add_argument("--limit", type=int, default=10, help="how many (1-50)")
    show = add("movie", help="one movie in full")
    show.add_argument("movie", type=int, help="TMDB movie id")
    user = add("user", help="a user's rating count and recent ratings")
    user.add_argument("user", type=int)
    user.add_argument("--limit", type=int, default=10)
    add("info", help="what index the server is serving")
    wait = add("wait", help="wait until the server reports SERVING")
    wait.add_argument("--for", dest="wait_s", type=float, default=60.0, help="seconds to wait")
    sub.add_parser("eval", help="offline evaluation on real ratings (see `movierec eval --help`)", add_help=False)
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if args.command == "eval":  # its own options (and --help) are the evaluation's, in its own process:
        # the client does not depend on the evaluation (the layers in pyproject's importlinter contracts)
        if any(importlib.util.find_spec(name) is None for name in ("torch", "pandas", "bm25s", "matplotlib")):
            print("movierec: the evaluation is not installed: pip install 'movierec[eval]'", file=sys.stderr)
            return 2
        return subprocess.run([sys.executable, "-m", "movierec.evaluation.cli", *rest]).returncode
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    target, timeout = getattr(args, "target", DEFAULT_TARGET), getattr(args, "timeout", 30.0)

    # A person at a terminal wants "cannot connect" now, not after the deadline: no waiting for an
    # unreachable server (gRPC still retries UNAVAILABLE and RESOURCE_EXHAUSTED answers).
    try:
        client = RecommenderClient(
            target,
            timeout_s=timeout,
            token=getattr(args, "token", None),
            tls_ca=getattr(args, "tls_ca", None),
            tls_cert=getattr(args, "tls_cert", None),
            tls_key=getattr(args, "tls_key", None),
            wait_for_ready=False,
        )
    except (OSError, ValueError) as e:
        print(f"movierec: {e}", file=sys.stderr)
        return 2
    with client:
        try:
            if args.command == "recommend":
                result = client.recommend(
                    args.prompt,
                    user_id=args.user,
                    limit=args.limit,
                    include_rated=args.include_rated,
                    genres=args.genres,
                    excluded_genres=args.excluded_genres,
                    year_min=args.year_min,
                    year_max=args.year_max,
                    max_runtime=args.max_runtime,
                    languages=args.languages,
                    example_movie_ids=args.example_movie_ids,
                    excluded_movie_ids=args.excluded_movie_ids,
                    group_user_ids=args.group,
                    group_strategy=args.strategy,
                    with_details=args.details,
                    dropped=args.dropped,
                )
                people = ([args.user] if args.user is not None else []) + (args.group or [])
                who = (
                    f" for users {', '.join(map(str, people))}"
                    if len(people) > 1
                    else f" for user {people[0]}"
                    if people
                    else ""
                )
                print(
                    f"\n{args.prompt!r}{who}:"
                    if args.prompt
                    else f"\ntaste of{who.replace(' for', '')}:"
                    if people
                    else "\n(constraints only):"
                )
                print(f"understood: {describe_understood(result.understood)}")
                print(format_table(result, members=people))
            elif args.command == "chat":
                return chat(client, sys.stdin, args.user, args.group, args.limit)
            elif args.command == "rate":
                ack = client.record_feedback(args.user, args.movie, args.rating, args.request_id)
                print(
                    f"user {args.user} rated movie {args.movie}: {args.rating:g}"
                    f"{' (already recorded)' if ack.duplicate else ''}; {ack.ratings} ratings in all"
                )
            elif args.command in ("seen", "not-interested"):
                ack = client.mark(args.user, args.movie, args.command.replace("-", "_"), args.undo, args.request_id)
                print(
                    f"user {args.user}: movie {args.movie} {'no longer ' if args.undo else ''}marked "
                    f"{args.command.replace('-', ' ')}{' (already recorded)' if ack.duplicate else ''}"
                )
            elif args.command == "search":
                for m in client.search(args.query, args.limit):
                    names = ", ".join(m.directors[:1] + m.cast[:2])
                    print(
                        f"{m.movie_id:>8}  {m.title} ({m.year or '?'})  {', '.join(m.genres[:3])}"
                        f"{'  — ' + names if names else ''}"
                    )
            elif args.command == "movie":
                print(describe_movie(client.movie(args.movie)))
            elif args.command == "user":
                described = client.user(args.user, args.limit)
                print(f"user {described.user_id}: {described.ratings} ratings; most recent:")
                for r in described.recent:
                    print(f"  movie {r.movie_id:>8}  {r.rating:>3.1f}  at {r.timestamp}")
                for label, ids in (("seen", described.seen), ("not interested", described.not_interested)):
                    if ids:
                        print(f"{label}: {', '.join(map(str, ids))}")
            elif args.command == "info":
                info = client.index_info()
                print(
                    f"index {info.index_version}: {info.movies} movies, {info.users} users, "
                    f"model {info.model} ({info.dimensions} dimensions; catalogue embedded with "
                    f"{info.catalogue_encoder_backend or 'unknown'}, prompts with {info.prompt_encoder_backend}); "
                    f"ranker: {info.ranker}; server movierec {info.server_version}"
                )
                print("signals (weight with a user / anonymous):")
                for name, meaning, weight, anonymous_weight in info.signals:
                    print(f"  {name:<14} {weight:>5g} / {anonymous_weight:<5g} {meaning}")
            elif args.command == "wait":
                if not client.wait_until_serving(args.wait_s):
                    print(f"movierec: {target} is not SERVING after {args.wait_s:.0f}s", file=sys.stderr)
                    return 1
        except grpc.RpcError as e:
            print(f"movierec: {e.code().name}: {e.details()}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
