"""The understanding stage on conversation openings: titles with years, small talk, and words that
are both a genre and a one-word title. A small synthetic catalogue makes each trap explicit."""

from __future__ import annotations

import pytest

from movierec.domain import Movie
from movierec.understanding import Understander, _title_cased_positions, prompt_words

CATALOGUE = [
    Movie(1, "Argo", 2012, ("Drama", "Thriller")),
    Movie(2, "#Horror", 2015, ("Horror",)),
    Movie(3, "The Greatest", 2009, ("Drama",)),
    Movie(4, "Highlander", 1986, ("Action", "Fantasy")),
    Movie(5, "Mrs. Doubtfire", 1993, ("Comedy", "Family")),
    Movie(6, "Tucker and Dale vs Evil", 2010, ("Comedy", "Horror")),
    Movie(7, "Star Wars", 1977, ("Adventure", "Science Fiction")),
    Movie(8, "The Departed", 2006, ("Crime", "Thriller")),
    Movie(9, "Adam", 2009, ("Drama", "Romance"), cast=("Hugh Dancy",)),
    Movie(10, "Click", 2006, ("Comedy", "Fantasy"), cast=("Adam Sandler", "Kate Beckinsale")),
    Movie(11, "Three", 2010, ("Drama",)),
    Movie(12, "Scary Movie 2", 2001, ("Comedy",)),
    Movie(13, "Trucker", 2008, ("Drama",)),
    Movie(14, "Superhero Movie", 2008, ("Comedy", "Action")),
    Movie(15, "Inception", 2010, ("Action", "Science Fiction")),
]


@pytest.fixture(scope="module")
def understander() -> Understander:
    return Understander(CATALOGUE)


def names(u, rows) -> list[str]:  # noqa: ANN001
    return [CATALOGUE[r].title for r in rows]


def test_capitalisation_is_read_at_the_right_word_after_punctuation() -> None:
    text = "Hello, thanks! i really like the original Star Wars"
    words, cased = prompt_words(text), _title_cased_positions(text)
    assert len(words) == len(cased)
    assert [w for i, w in enumerate(words) if cased[i]] == ["hello", "star", "wars"]


def test_a_title_case_title_after_small_talk(understander: Understander) -> None:
    u = understander.understand(
        "Hello i'm doing good, thanks! i really like the original Star Wars and The Departed (2006)"
    )
    assert sorted(names(u, u.examples)) == ["Star Wars", "The Departed"]


def test_a_stated_year_rules_out_other_releases(understander: Understander) -> None:
    for text in (
        "I like dark comedies, like Fargo (1996)",
        "I love The Greatest Showman (2017) .",
        "Hello I love Highlander II: The Quickening (1991) , what can you recommend?",
    ):
        assert understander.understand(text).examples == (), text
    assert names(None, understander.understand("I love Highlander (1986)").examples) == ["Highlander"]


def test_abbreviations_do_not_end_a_clause(understander: Understander) -> None:
    u = understander.understand("i really enjoyed Mrs. Doubtfire (1993), also Tucker & Dale vs. Evil (2010).")
    assert names(u, u.examples) == ["Mrs. Doubtfire", "Tucker and Dale vs Evil"]


def test_a_genre_word_after_a_cue_is_the_genre_not_a_one_word_title(understander: Understander) -> None:
    for text in ("I like horror or thriller movies", "Hey there I love horror films", "yeah I love horror"):
        u = understander.understand(text)
        assert u.examples == () and "Horror" in u.genres, text


def test_a_person_is_not_cut_into_a_title(understander: Understander) -> None:
    u = understander.understand("hi I like adam sandler movies")
    assert u.examples == () and u.people == ("Adam Sandler",)


def test_misspellings_keep_first_letters_and_numbers(understander: Understander) -> None:
    assert understander.understand("something like fargo").examples == ()  # not Argo
    assert understander.understand("i liked scary movie").examples == ()  # not Scary Movie 2
    assert understander.understand("I really love superhero movies").examples == ()  # a kind, not a title
    assert names(None, understander.understand("I loved Incepton").examples) == ["Inception"]


def test_number_words_are_not_titles(understander: Understander) -> None:
    assert understander.understand("What are your top favorite three movies?").examples == ()


def test_small_talk_leaves_the_mood(understander: Understander) -> None:
    assert understander.understand("Hi! How are you? I'm good, thanks.").mood == ""
    u = understander.understand("hello how are you im looking for something suspenseful and dark")
    assert "hello" not in u.mood and "how are you" not in u.mood and "dark" in u.mood
