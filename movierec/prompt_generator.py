"""Requests in everyday words, generated from word lists with a seeded RNG (no data set text): the
indexer's calibration queries for an approximate index, and the benchmark's load.

`short` prompts are about 10 tokens, like "a suspenseful detective film set in a rainy city";
`mixed` prompts run from 3 to about 60 words. The word lists make some prompts repeat, so `make bench`
turns the server's prompt cache off for the runs its ratios read, and measures the cache apart.
"""

from __future__ import annotations

import random

ADJECTIVES = (
    "suspenseful",
    "feel-good",
    "thrilling",
    "dark",
    "funny",
    "heartwarming",
    "scary",
    "quirky",
    "epic",
    "slow-burning",
    "gritty",
    "charming",
    "mind-bending",
    "romantic",
    "violent",
    "gentle",
    "clever",
    "tense",
    "silly",
    "moving",
)
GENRES = (
    "detective",
    "action",
    "romcom",
    "horror",
    "science fiction",
    "western",
    "war",
    "heist",
    "fantasy",
    "animated",
    "musical",
    "sports",
    "spy",
    "courtroom",
    "disaster",
    "family",
    "crime",
    "historical",
    "zombie",
    "space",
)
NOUNS = ("film", "movie", "flick", "story")
SETTINGS = (
    "set in a rainy city",
    "about a daring escape",
    "with a twist ending",
    "on a long road trip",
    "in a haunted house",
    "about an unlikely friendship",
    "set in the far future",
    "about a lost treasure",
    "during a cold winter",
    "on a remote island",
    "about two rival families",
    "in a small town",
    "with lots of car chases",
    "about growing up",
    "set at sea",
)
CLAUSES = (
    "something we can watch with friends after dinner",
    "nothing too long or too sad please",
    "we liked the older classics more than the new ones",
    "bonus points for a great soundtrack",
    "one of us hates subtitles",
    "the kind of story that keeps you guessing until the end",
    "with characters you actually care about",
    "not a sequel if possible",
    "ideally with a strong female lead",
    "beautiful photography and a slow pace are fine",
)


def short_prompt(rng: random.Random) -> str:
    return f"a {rng.choice(ADJECTIVES)} {rng.choice(GENRES)} {rng.choice(NOUNS)} {rng.choice(SETTINGS)}"


def mixed_prompt(rng: random.Random) -> str:
    """3 to ~60 words: a bare genre, a short prompt, or a short prompt and up to five clauses."""
    kind = rng.random()
    if kind < 0.2:
        return f"{rng.choice(ADJECTIVES)} {rng.choice(GENRES)}"
    clauses = 0 if kind < 0.5 else rng.randint(1, 5)
    return ", ".join([short_prompt(rng), *rng.sample(CLAUSES, clauses)])


def prompts(kind: str, n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    make = {"short": short_prompt, "mixed": mixed_prompt, "none": lambda _: ""}[kind]  # none: taste only
    return [make(rng) for _ in range(n)]
