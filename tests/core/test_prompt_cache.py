"""The prompt cache: the encoder's vectors, each normalised mood embedded once, bounded in bytes (LRU)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from movierec.embedding import Encoder
from movierec.prompt_cache import ENTRY_OVERHEAD, PromptCache, normalised


class Counting:
    """A stand-in encoder: a fixed random vector per exact text; records what it was asked."""

    def __init__(self, dimensions: int = 8):
        self.dimensions = dimensions
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str], progress: object = None, threads: int | None = None) -> np.ndarray:
        self.calls.append(list(texts))
        rows = [np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(self.dimensions) for t in texts]
        return np.array(rows, dtype=np.float32).reshape(len(texts), self.dimensions)


def test_a_repeated_mood_is_embedded_once_and_gets_the_same_vector() -> None:
    inner = Counting()
    cache = PromptCache(inner, 1 << 20)  # type: ignore[arg-type]
    first = cache.encode(["a comedy", "something scary", "a comedy"])
    again = cache.encode(["something scary", "a western"])
    assert inner.calls == [["a comedy", "something scary"], ["a western"]]
    np.testing.assert_array_equal(first[0], first[2])
    np.testing.assert_array_equal(again[0], first[1])
    np.testing.assert_array_equal(again[1], inner.encode(["a western"])[0])
    assert (cache.hits, cache.misses) == (1, 4) and len(cache) == 3


def test_whitespace_never_splits_a_key_and_case_only_for_an_uncased_tokenizer() -> None:
    assert normalised("  a   comedy\tfor  kids ", lowercase=False) == "a comedy for kids"
    assert normalised("A Comedy", lowercase=True) == "a comedy"
    inner = Counting()
    cache = PromptCache(inner, 1 << 20)  # type: ignore[arg-type]
    cache.encode(["a comedy"])
    cache.encode(["  a  comedy "])
    cache.encode(["A comedy"])  # the stand-in has no tokenizer: case matters
    assert inner.calls == [["a comedy"], ["A comedy"]]


def test_the_real_uncased_encoder_gives_one_vector_for_texts_that_share_a_key(encoder: Encoder) -> None:
    cache = PromptCache(encoder, 1 << 20)
    assert cache.lowercase  # all-MiniLM-L6-v2 lower-cases
    texts = ["Romance,   nothing SCARY", "romance, nothing scary"]
    direct = encoder.encode(texts)
    assert float(direct[0] @ direct[1]) > 1 - 1e-6  # the premise: the encoder itself cannot tell them apart
    cached = np.concatenate([cache.encode([texts[0]]), cache.encode([texts[1]])])
    np.testing.assert_allclose(cached, direct, atol=1e-6)
    assert (cache.hits, cache.misses) == (1, 1)


def test_the_least_recently_used_go_when_the_bytes_run_out() -> None:
    inner = Counting(dimensions=16)
    entry = 16 * 4 + len(b"mood 0") + ENTRY_OVERHEAD
    cache = PromptCache(inner, 3 * entry)  # type: ignore[arg-type]
    cache.encode(["mood 0", "mood 1", "mood 2"])
    cache.encode(["mood 0"])  # now the most recent
    cache.encode(["mood 3"])  # evicts mood 1, the least recent
    assert cache.bytes <= 3 * entry and len(cache) == 3
    inner.calls.clear()
    cache.encode(["mood 0", "mood 2", "mood 3"])
    assert inner.calls == []
    cache.encode(["mood 1"])
    assert inner.calls == [["mood 1"]]


def test_zero_bytes_turns_it_off() -> None:
    inner = Counting()
    cache = PromptCache(inner, 0)  # type: ignore[arg-type]
    cache.encode(["a comedy"])
    cache.encode(["a comedy"])
    assert inner.calls == [["a comedy"], ["a comedy"]] and len(cache) == 0
