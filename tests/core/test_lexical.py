from __future__ import annotations

import numpy as np
import pytest

from movierec.lexical import TagMatcher, expand, words

MOVIES = [
    ("Comedy", "Romance", "new york"),  # 0
    ("Science Fiction", "time travel"),  # 1
    ("Horror", "zombie"),  # 2
    ("Drama", "life"),  # 3
    ("Comedy", "Drama"),  # 4
    ("Animation", "toy"),  # 5
]


@pytest.fixture(scope="module")
def matcher() -> TagMatcher:
    return TagMatcher(MOVIES)


def test_plurals_and_synonyms() -> None:
    assert words("Zombies and Toys!") == ["zombie", "and", "toy"]
    assert "science" in expand("a sci-fi night") and "fiction" in expand("a sci-fi night")
    assert {"romance", "comedy"} <= set(expand("a feel-good romcom"))


@pytest.mark.parametrize(
    "prompt, best, tags",
    [
        ("a feel-good romcom", 0, {"romance", "comedy"}),
        ("a sci-fi movie about time travel", 1, {"science fiction", "time travel"}),
        ("scary zombies", 2, {"horror", "zombie"}),
        ("an animated movie about toys that come to life", 5, {"animation", "toy"}),
    ],
)
def test_prompts_find_the_movie_carrying_their_tags(matcher: TagMatcher, prompt: str, best: int, tags: set) -> None:
    assert set(matcher.tags_in(prompt)) == tags
    scores = matcher.scores([prompt])[0]
    assert scores[best] == pytest.approx(1.0)
    assert np.argmax(scores) == best


def test_generic_words_and_empty_prompts_match_nothing(matcher: TagMatcher) -> None:
    assert matcher.tags_in("a good movie about life for tonight") == {}
    np.testing.assert_array_equal(matcher.scores(["", "zzz"]), 0)
    assert matcher.scores([]).shape == (0, len(MOVIES))


def test_rare_tags_weigh_more_than_common_ones(matcher: TagMatcher) -> None:
    scores = matcher.scores(["a comedy about new york"])[0]
    # movie 0 carries both tags; movie 4 only the common "comedy" (2 of 6 movies), less than half the weight
    assert scores[0] == pytest.approx(1.0)
    assert 0 < scores[4] < 0.5


def test_tags_found_are_every_run_of_words_that_is_a_tag() -> None:
    """The automaton against the plain reference: every contiguous run of the expanded words that is a tag."""
    rng = np.random.default_rng(5)
    vocabulary = [
        "new",
        "york",
        "new york",
        "time",
        "travel",
        "time travel",
        "road trip",
        "trip",
        "zombie",
        "comedy",
        "romance",
        "science fiction",
        "love",
        "new york city",
    ]
    movies = [tuple(rng.choice(vocabulary, size=3, replace=False)) for _ in range(40)]
    tagger = TagMatcher(movies)
    pool = [
        "new",
        "york",
        "city",
        "time",
        "travel",
        "road",
        "trip",
        "zombies",
        "a",
        "the",
        "romcom",
        "sci-fi",
        "funny",
        "love",
        "story",
        "and",
        "not",
    ]
    for _ in range(300):
        text = " ".join(rng.choice(pool, size=int(rng.integers(0, 12))))
        ws = expand(text)
        reference = {" ".join(ws[i:j]) for i in range(len(ws)) for j in range(i + 1, len(ws) + 1)} & set(
            tagger.vocabulary
        )
        found = tagger.tags_in(text)
        assert set(found) == reference
        assert all(found[t] == pytest.approx(tagger.idf[tagger.vocabulary[t]]) for t in found)
