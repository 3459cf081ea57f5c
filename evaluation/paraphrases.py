"""Everyday wordings of what a genre feels like: two disjoint sets, one for tuning, one for the test.

Written by hand the way people describe a movie night, not from TMDB's tags or keywords and not
from the understanding stage's word lists (some everyday words, "funny" or "scary", are in both,
as they are in real requests; the report counts how often the stage reads the genre directly).
Weights are chosen with TUNING on the validation split; the test split is scored with TEST only.
"""

from __future__ import annotations

TUNING: dict[str, tuple[str, ...]] = {
    "Action": (
        "lots of fights, chases and explosions",
        "something with a hero blowing things up",
        "an adrenaline rush with big stunts",
        "non-stop shootouts and car chases",
    ),
    "Adventure": (
        "a quest to a faraway land",
        "treasure hunting and exploring the unknown",
        "an epic journey across the world",
        "explorers on a dangerous expedition",
    ),
    "Animation": (
        "a cartoon we can all enjoy",
        "a Pixar-style animated story",
        "drawn or computer animated film",
        "an animated feature with talking animals",
    ),
    "Comedy": (
        "something that will make us laugh a lot",
        "a silly movie full of jokes",
        "light-hearted and hilarious",
        "a goofy film to laugh at together",
    ),
    "Crime": (
        "gangsters, cops and a big heist",
        "a story about the mob and organized crime",
        "bank robbers planning the perfect job",
        "a detective chasing a killer through the city",
    ),
    "Documentary": (
        "a true story told by the real people",
        "a documentary about the real world",
        "real footage and interviews about something important",
        "a nonfiction film that teaches me",
    ),
    "Drama": (
        "a serious, emotional story about people's lives",
        "something moving and character driven",
        "a heavy film about family and loss",
        "an emotional story that makes you think",
    ),
    "Family": (
        "something the whole family can watch with the kids",
        "a wholesome film for children and parents",
        "a movie for our kids' sleepover",
        "sweet and safe for young children",
    ),
    "Fantasy": (
        "wizards, dragons and magic",
        "a magical world with spells and creatures",
        "swords and sorcery",
        "fairy tale kingdoms and enchanted forests",
    ),
    "History": (
        "a film about real events from the past",
        "a period piece about kings and queens",
        "a story set during a historical revolution",
        "a biopic about a famous figure from history",
    ),
    "Horror": (
        "something to give us nightmares",
        "ghosts, demons and a haunted house",
        "a terrifying movie with lots of jump scares",
        "a slasher with a masked killer",
    ),
    "Music": (
        "a movie about a band and their songs",
        "singers chasing their dream on stage",
        "lots of singing and dancing",
        "a film about a famous musician",
    ),
    "Mystery": (
        "a puzzling whodunit with twists",
        "a mysterious disappearance nobody can explain",
        "clues and a detective solving a riddle",
        "secrets slowly revealed",
    ),
    "Romance": (
        "a love story for date night",
        "two people falling in love",
        "sweet and romantic",
        "a passionate love affair",
    ),
    "Science Fiction": (
        "spaceships and aliens in the future",
        "robots and artificial intelligence",
        "time travel and parallel worlds",
        "a futuristic world of advanced technology",
    ),
    "Thriller": (
        "edge of my seat suspense",
        "a tense cat-and-mouse game",
        "a conspiracy with a ticking clock",
        "a gripping psychological game",
    ),
    "War": (
        "soldiers on the battlefield",
        "a story from World War II",
        "the horrors of combat",
        "a platoon fighting behind enemy lines",
    ),
    "Western": (
        "cowboys and outlaws in the Wild West",
        "a gunfight in a dusty frontier town",
        "sheriffs, saloons and horses",
        "a showdown on the American frontier",
    ),
    "Foreign": (
        "a film from another country",
        "a non-Hollywood film with subtitles",
        "cinema from abroad",
        "an international art-house film",
    ),
}

TEST: dict[str, tuple[str, ...]] = {
    "Action": (
        "a high-octane flick with epic fight scenes",
        "guns blazing and things exploding",
        "a muscle-bound hero taking down the bad guys",
        "pure action, punches and pursuits",
    ),
    "Adventure": (
        "an expedition through jungles and ruins",
        "a daring journey into the unknown",
        "a swashbuckling voyage",
        "heroes setting out on a grand journey",
    ),
    "Animation": (
        "an animated film for tonight",
        "beautiful animation, maybe Disney or Ghibli",
        "a cartoon movie",
        "computer animated fun",
    ),
    "Comedy": (
        "a funny movie to cheer me up",
        "something hilarious, I need a good laugh",
        "a feel-good film full of gags",
        "make me laugh out loud",
    ),
    "Crime": (
        "a heist gone wrong",
        "drug dealers and the police closing in",
        "a gritty mob story",
        "hitmen and crooks in the underworld",
    ),
    "Documentary": (
        "a real-life documentary",
        "something factual about nature or history",
        "an eye-opening look at a true subject",
        "a film of interviews and real events",
    ),
    "Drama": (
        "a powerful dramatic story",
        "a tearjerker about relationships",
        "something deep and emotional about ordinary lives",
        "a serious film with great acting",
    ),
    "Family": (
        "a movie we can watch with our children",
        "kid-friendly fun for all ages",
        "a film for family movie night",
        "something nice for my little nephews",
    ),
    "Fantasy": (
        "a magical adventure with mythical creatures",
        "elves, wizards and a dark lord",
        "an enchanted realm full of magic",
        "a mythical quest with a sorcerer",
    ),
    "History": (
        "a historical drama based on true events",
        "a story about an ancient empire",
        "a film about a real historical battle",
        "life in a past century",
    ),
    "Horror": (
        "a scary film that will keep me up at night",
        "a creepy haunting",
        "blood, gore and screams",
        "a possessed child and an exorcism",
    ),
    "Music": (
        "a musical with great songs",
        "a story about musicians and their music",
        "rock stars on tour",
        "a film full of music and concerts",
    ),
    "Mystery": (
        "an unsolved mystery with a clever ending",
        "a detective story full of clues",
        "a puzzling case to figure out",
        "who did it? a murder mystery",
    ),
    "Romance": (
        "a romantic movie",
        "something about love and relationships",
        "a heartwarming romance",
        "lovers against all odds",
    ),
    "Science Fiction": (
        "a space adventure among the stars",
        "a sci-fi movie about the future",
        "alien invasion",
        "a dystopian future with clones",
    ),
    "Thriller": (
        "a suspenseful film with a killer twist",
        "a nail-biting thriller",
        "spies and betrayal",
        "a tense story of a stalker",
    ),
    "War": ("a war movie", "troops in the trenches", "a battle in Vietnam", "soldiers at war"),
    "Western": (
        "a western with gunslingers",
        "bandits and bounty hunters on horseback",
        "a story of the old west",
        "a cattle drive across the plains",
    ),
    "Foreign": ("a foreign language film", "a movie not in English", "world cinema", "something from overseas"),
}
