"""Real conversations as requests: ReDial (Li et al. 2018, CC BY 4.0), read from ../shared/data/redial.

A request is what the seeker wrote before the recommender's first suggestion, each `@<id>` written
out as "Title (year)"; the relevant movies are the ones the recommender suggested
(`respondentQuestions[id].suggested == 1`) that the catalogue has, leaving out movies the seeker
named. ReDial titles are mapped to catalogue movies by normalised title and year (within one year).
Nothing here was chosen by looking at individual conversations.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from movierec.domain import Movie
from movierec.understanding import normalise

MENTION = re.compile(r"@(\d+)")
TITLE_YEAR = re.compile(r"^(.*?)\s*\((\d{4})\)\s*$")


@dataclass
class Conversations:
    """requests[i] (text) with relevant[i] (catalogue rows) and named[i] (rows the seeker named)."""

    requests: list[str] = field(default_factory=list)
    relevant: list[set[int]] = field(default_factory=list)
    named: list[list[int]] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)  # ReDial conversationId
    skipped: Counter[str] = field(default_factory=Counter)
    mapped_titles: int = 0
    unmapped_titles: int = 0


class TitleMapper:
    """ReDial "Title (year)" -> catalogue row, by normalised title and year within one year."""

    def __init__(self, movies: list[Movie]):
        self.movies = movies
        self.by_title: dict[str, list[int]] = {}
        for row, m in enumerate(movies):
            self.by_title.setdefault(normalise(m.title), []).append(row)
            # "The Matrix" is often written "Matrix, The"; articles are dropped on both sides.
            self.by_title.setdefault(_without_article(normalise(m.title)), []).append(row)

    def row(self, redial_title: str) -> int | None:
        text = redial_title.replace("%3F", "?").strip()
        match = TITLE_YEAR.match(text)
        title, year = (match.group(1), int(match.group(2))) if match else (text, None)
        key = normalise(title)
        rows = self.by_title.get(key) or self.by_title.get(_without_article(key)) or []
        rows = sorted(set(rows))
        if year is not None:
            rows = [r for r in rows if self.movies[r].year and abs(self.movies[r].year - year) <= 1]
            rows.sort(key=lambda r: abs(self.movies[r].year - year))
            return rows[0] if rows else None
        return rows[0] if len(rows) == 1 else None


class MentionRows:
    """ReDial movie id -> catalogue row, each id mapped once across a file (ids are the same in every
    conversation); counts the distinct ids mapped and not."""

    def __init__(self, movies: list[Movie]):
        self.mapper = TitleMapper(movies)
        self.rows: dict[str, int | None] = {}
        self.mapped = self.unmapped = 0

    def add(self, mentions: Mapping[str, str]) -> None:
        """Map a conversation's `movieMentions` ids not seen before."""
        for key, title in mentions.items():
            if key not in self.rows:
                row = self.rows[key] = self.mapper.row(title or "")
                if row is None:
                    self.unmapped += 1
                else:
                    self.mapped += 1

    def get(self, key: str) -> int | None:
        return self.rows.get(key)


def read_conversations(path: Path) -> Iterator[dict[str, Any]]:
    """The conversations of a ReDial .jsonl file, one dict each."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def written_out(text: str, mentions: Mapping[str, str]) -> str:
    """`text` with each `@<id>` replaced by its `movieMentions` title (whitespace collapsed, "%3F" as "?");
    an id without a title becomes ""."""
    return MENTION.sub(lambda m: " ".join((mentions.get(m.group(1)) or "").replace("%3F", "?").split()), text)


def _without_article(key: str) -> str:
    words = key.split()
    return " ".join(words[1:]) if len(words) > 1 and words[0] in ("the", "a", "an") else key


def load_conversations(path: Path, movies: list[Movie]) -> Conversations:
    out = Conversations()
    mapped = MentionRows(movies)
    cache = mapped.rows
    for conversation in read_conversations(path):
        mentions: dict[str, str] = conversation.get("movieMentions") or {}
        mapped.add(mentions)
        seeker = conversation["initiatorWorkerId"]
        suggested = {
            k
            for k, q in (conversation.get("respondentQuestions") or {}).items()
            if isinstance(q, dict) and q.get("suggested") == 1
        }
        request: list[str] = []
        named: list[int] = []
        seen_suggestion = False
        seeker_named: set[int] = set()
        for message in conversation["messages"]:
            ids = MENTION.findall(message["text"])
            if message["senderWorkerId"] == seeker:
                seeker_named |= {cache[i] for i in ids if cache.get(i) is not None}  # type: ignore[misc]
                if not seen_suggestion:
                    request.append(
                        MENTION.sub(
                            lambda m: " ".join(mentions.get(m.group(1), "").split()),  # noqa: B023 (sub() calls it now)
                            message["text"],
                        )
                    )
                    named += [cache[i] for i in ids if cache.get(i) is not None]  # type: ignore[misc]
            elif any(i in suggested for i in ids):
                seen_suggestion = True
        relevant = {cache[k] for k in suggested if cache.get(k) is not None} - seeker_named
        text = " ".join(" ".join(request).split())
        if not text:
            out.skipped["the seeker wrote nothing before the first suggestion"] += 1
        elif not relevant:
            out.skipped["no suggested movie in the catalogue (other than ones the seeker named)"] += 1
        else:
            out.requests.append(text)
            out.relevant.append(relevant)  # type: ignore[arg-type]
            out.named.append(list(dict.fromkeys(named)))
            out.ids.append(int(conversation["conversationId"]))
    out.mapped_titles, out.unmapped_titles = mapped.mapped, mapped.unmapped
    return out


def halves(conversations: Conversations) -> tuple[Conversations, Conversations]:
    """(tuning, test): the conversations with even and with odd ReDial ids, so that weights chosen on
    one half are measured on the other (the split reads only the id)."""
    parts = (Conversations(), Conversations())
    for i, conversation_id in enumerate(conversations.ids):
        part = parts[conversation_id % 2]
        part.requests.append(conversations.requests[i])
        part.relevant.append(conversations.relevant[i])
        part.named.append(conversations.named[i])
        part.ids.append(conversation_id)
    return parts
