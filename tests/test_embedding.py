"""The real model reads a whole abstract: passages of the window, pooled by length (models/embedding.py)."""

from __future__ import annotations

import threading

import numpy as np

from models.embedding import Embedder
from tests.support import real_embedder

OPENING = "Stochastic gradient descent with small minibatches injects noise whose strength we measure. " * 12
ENDING = "Finally, we apply the method to protein folding and crystal structure prediction in chemistry."


def test_words_past_the_window_change_the_vector():
    embedder = real_embedder()
    assert len(embedder.split(OPENING)) > 1
    whole, cut = embedder.embed([OPENING + ENDING, OPENING])
    assert float(whole @ cut) < 0.999


def test_a_long_text_is_the_length_weighted_mean_of_its_passages():
    embedder = real_embedder()
    passages = embedder.split(OPENING + ENDING)
    vectors = embedder.embed([p for p, _ in passages])
    pooled = np.array([n for _, n in passages], dtype=np.float32) @ vectors
    expected = pooled / np.linalg.norm(pooled)
    assert np.allclose(embedder.embed([OPENING + ENDING])[0], expected, atol=1e-5)
    assert sum(n for _, n in passages) == len(
        embedder._load().tokenizer(OPENING + ENDING, add_special_tokens=False)["input_ids"]
    )


def test_a_short_text_is_one_passage_and_the_cache_key_says_how_texts_are_read():
    embedder = real_embedder()
    single = Embedder(embedder.model_name, max_tokens=embedder.max_tokens, passages=False)
    assert embedder.split(ENDING) == [(ENDING, embedder.split(ENDING)[0][1])]
    assert np.allclose(embedder.embed([ENDING]), single.embed([ENDING]), atol=1e-5)
    assert embedder.cache_key != single.cache_key


def test_one_embedder_shared_by_many_threads_answers_every_call():
    """Fast tokenizers raise "Already borrowed" when one thread changes truncation (splitting counts
    every word piece; encoding truncates to the window) while another encodes. Eight threads share one
    Embedder, each splitting and embedding texts of mixed lengths, a bounded number of times."""
    embedder = Embedder()  # its own instance: no other test's calls mixed in
    texts = [ENDING, OPENING, OPENING + ENDING, "gradient noise", ENDING * 3, OPENING * 2]
    expected = embedder.embed(texts)
    failures: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for round_ in range(4):
                mine = texts[offset % len(texts):] + texts[: offset % len(texts)]
                assert len(embedder.split(mine[round_ % len(mine)])) >= 1
                vectors = embedder.embed(mine)
                assert np.allclose(vectors, np.roll(expected, -(offset % len(texts)), axis=0), atol=1e-4)
        except BaseException as exc:  # noqa: BLE001 - any failure in a thread fails the test
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    assert not failures, repr(failures[:3])
def test_the_configured_window_is_the_models_own_so_an_abstract_is_one_passage():
    """DISCOVERY_EMBEDDING_MAX_TOKENS defaults to all-MiniLM-L6-v2's max_seq_length (256): a typical
    abstract is read in one window, as the plain reference reads it; only longer texts become passages."""
    from models.settings import Settings

    configured = Settings().embedder()
    assert 128 < len(configured._load().tokenizer(OPENING, add_special_tokens=False)["input_ids"]) < 254
    assert len(configured.split(OPENING)) == 1 and len(configured.split(OPENING * 2)) == 2
    assert configured._load().max_seq_length == 256
