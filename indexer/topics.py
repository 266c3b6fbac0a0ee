"""Topics: the sources' own labels, deduplicated, and derived ones for works that have none.

Derived topics are clusters of the embedding space (spherical k-means, fixed seed so rebuilds agree)
labelled by the terms most distinctive of their titles against the whole corpus.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict

import numpy as np
from unidecode import unidecode

from models.records import TopicRef, Work, topic_id
from search import text as T

MAX_TOPICS_PER_WORK = 6
STOPWORDS = T.STOPWORDS | frozenset(
    """without new approach approaches method methods model models
    study analysis learning deep neural network networks paper results problem problems data efficient
    improved improving large scale case general two one non multi less better beyond within across
    applications application""".split()
)
"""Search's stopwords plus words too generic to label a topic."""


def label_key(label: str) -> str:
    """Case, diacritics, punctuation, hyphen and plural variants collapse: 'Neural-Networks' == 'neural network'."""
    words = re.findall(r"[a-z0-9]+", unidecode(label).lower().replace("-", " "))
    return " ".join(_singular(w) for w in words)


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "ics")):
        return word[:-1]
    return word


def _terms(title: str) -> list[str]:
    words = [w for w in T.tokens(title) if len(w) > 2 and w[0].isalpha()]
    unigrams = [_singular(w) for w in words if w not in STOPWORDS]
    bigrams = [
        f"{_singular(a)} {_singular(b)}"
        for a, b in zip(words, words[1:])
        if a not in STOPWORDS and b not in STOPWORDS
    ]
    return unigrams + bigrams


def spherical_kmeans(vectors: np.ndarray, k: int, iterations: int = 25, seed: int = 0) -> np.ndarray:
    """Cluster unit vectors by cosine; k-means++ seeding from a fixed seed for repeatable rebuilds."""
    rng = np.random.default_rng(seed)
    n = len(vectors)
    centers = [vectors[rng.integers(n)]]
    closest = 1 - vectors @ centers[0]
    for _ in range(1, k):
        weights = np.clip(closest, 0, None) ** 2
        pick = rng.choice(n, p=weights / weights.sum()) if weights.sum() > 0 else rng.integers(n)
        centers.append(vectors[pick])
        closest = np.minimum(closest, 1 - vectors @ vectors[pick])
    centroids = np.stack(centers)
    assignment = np.zeros(n, dtype=np.int64)
    for _ in range(iterations):
        new_assignment = np.argmax(vectors @ centroids.T, axis=1)
        if _ > 0 and np.array_equal(new_assignment, assignment):
            break
        assignment = new_assignment
        for c in range(k):
            members = vectors[assignment == c]
            if len(members):
                mean = members.sum(axis=0)
                centroids[c] = mean / (np.linalg.norm(mean) or 1.0)
    return assignment


def derive_labels(works: list[Work], assignment: np.ndarray, corpus_df: Counter, corpus_size: int) -> dict[int, str]:
    """Each cluster's label: its most distinctive title term (tf in cluster x idf in corpus), bigrams first."""
    by_cluster: dict[int, Counter] = defaultdict(Counter)
    for work, cluster in zip(works, assignment):
        by_cluster[int(cluster)].update(set(_terms(work.title)))
    sizes = Counter(int(c) for c in assignment)
    labels = {}
    for cluster, counts in by_cluster.items():
        size = sizes[cluster]

        def score(term: str) -> float:
            tf = counts[term] / size
            idf = math.log((1 + corpus_size) / (1 + corpus_df[term]))
            return tf * idf * (1.6 if " " in term else 1.0)

        candidates = [t for t, c in counts.items() if c >= 2] or list(counts)
        ranked = sorted(candidates, key=lambda t: (-score(t), t))
        labels[cluster] = _label(ranked, score)
    return labels


def _label(ranked: list[str], score) -> str:
    """A strong phrase alone ("Gradient Descent"); otherwise two distinct words ("Bayesian, Uncertainty")."""
    if not ranked:
        return "Miscellaneous"
    phrases = [t for t in ranked if " " in t]
    if phrases and score(phrases[0]) >= 0.5 * score(ranked[0]):
        return phrases[0].title()
    words = [t for t in ranked if " " not in t]
    first = words[0] if words else ranked[0]
    second = next((w for w in words[1:] if w not in first and first not in w), None)
    return f"{first.title()}, {second.title()}" if second else first.title()


def assign_topics(works: list[Work], vectors: dict[str, np.ndarray]) -> tuple[dict[str, list[TopicRef]], dict[str, str]]:
    """Every work gets at least one topic. Returns (work id -> topics, topic id -> origin)."""
    display: dict[str, Counter] = defaultdict(Counter)
    origin: dict[str, str] = {}
    work_keys: dict[str, list[str]] = {}
    untopiced: list[Work] = []
    for work in works:
        keys = []
        for label in work.source_topics + work.keywords:
            key = label_key(label)
            if key and key not in keys:
                keys.append(key)
                display[key][label] += 1
                origin.setdefault(key, "source")
        work_keys[work.id] = keys[:MAX_TOPICS_PER_WORK]
        if not keys:
            untopiced.append(work)

    embedded = [w for w in untopiced if w.id in vectors]
    if embedded:
        corpus_df: Counter = Counter()
        for work in works:
            corpus_df.update(set(_terms(work.title)))
        matrix = np.stack([vectors[w.id] for w in embedded]).astype(np.float32)
        k = max(1, min(len(embedded), round(math.sqrt(len(embedded) / 3))))
        assignment = spherical_kmeans(matrix, k)
        labels = derive_labels(embedded, assignment, corpus_df, len(works))
        for work, cluster in zip(embedded, assignment):
            label = labels[int(cluster)]
            key = label_key(label)
            work_keys[work.id] = [key]
            display[key][label] += 1
            origin.setdefault(key, "derived")
    for work in untopiced:
        if not work_keys[work.id]:  # no vector either: fall back to its venue, never topic-less
            label = work.venue.name if work.venue else "Uncategorised"
            key = label_key(label) or "uncategorised"
            work_keys[work.id] = [key]
            display[key][label] += 1
            origin.setdefault(key, "derived")

    refs = {key: TopicRef(topic_id(key), display[key].most_common(1)[0][0]) for key in display}
    return (
        {wid: [refs[k] for k in keys] for wid, keys in work_keys.items()},
        {refs[k].id: origin[k] for k in refs},
    )
