"""Identity resolution at scale: time and peak memory of `indexer.identity.resolve` on N mentions.

    .venv/bin/python -m bench.identity --mentions 1000000
    .venv/bin/python -m bench.identity --records ../shared/data/arxiv-metadata-sample.jsonl

Names collide as they do in real data: each synthetic person gets a full name drawn from the author
names of ml-venues and the arXiv sample *with their real frequencies* (so "Yang Liu" and "Wei Wang"
are drawn many times, as different people, while most names are drawn once). Each person has a
home field (a random unit vector), one affiliation and a circle of co-authors; each work has 2-6
authors from one circle, a vector near its first author's field, and for each author their
affiliation (70%) and their name as usual, with the middle initial dropped (10%) or as initials
(5%). Prints one JSON line: mentions, works, people, distinct names, wall and CPU seconds (on a shared
machine the CPU time is the steadier number), peak RSS, the researchers and a digest of the clusters
(`clusters_sha256`: a faster version must print the same), and the
pairwise precision/recall against the generated people (a sanity check, not a quality claim:
the real measurement is `discovery eval identity`).

`--records` resolves real records instead (no vectors, so names, co-authors and affiliations only):
the arXiv sample holds a work with 2,830 authors, whose co-author keys once cost 748 MB. It prints
mentions, works, the largest author count, wall and CPU seconds and peak RSS.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import time
from collections import Counter
from pathlib import Path

import numpy as np

from bench.machine import describe
from evaluation.identity import score
from indexer import identity
from indexer.sources import read_records
from models.records import Authorship, Institution, Work

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SOURCES = [SHARED / "ml-venues.openalex.jsonl.gz", SHARED / "arxiv-metadata-sample.jsonl"]
DIMENSION = 384


def real_names(paths: list[Path]) -> Counter:
    names: Counter = Counter()
    for path in paths:
        for parsed in read_records(path):
            if parsed.work is not None:
                names.update(a.name for a in parsed.work.authorships if len(identity.name_tokens(a.name)) >= 2)
    return names


def variant(name: str, rng: random.Random) -> str:
    tokens = name.split()
    roll = rng.random()
    if roll < 0.10 and len(tokens) == 3 and len(tokens[1].strip(".")) == 1:
        return f"{tokens[0]} {tokens[2]}"
    if roll < 0.15:
        return " ".join([*(t[0] + "." for t in tokens[:-1]), tokens[-1]])
    return name


def synthetic(mentions: int, names: Counter, seed: int = 7) -> tuple[list[Work], dict[str, np.ndarray], dict[str, int]]:
    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    spelled, weights = zip(*names.items())
    people = max(1000, mentions // 6)  # about six mentions per person, as in ml-venues
    person_names = rng.choices(spelled, weights=weights, k=people)
    fields = np_rng.standard_normal((people, DIMENSION)).astype(np.float32)
    fields /= np.linalg.norm(fields, axis=1, keepdims=True)
    affiliations = [f"Institute {rng.randrange(people // 20 + 1)}" for _ in range(people)]
    circles = [[rng.randrange(people) for _ in range(8)] for _ in range(people)]
    works, vectors, truth = [], {}, {}
    made = 0
    while made < mentions:
        first = rng.randrange(people)
        authors = list(dict.fromkeys([first, *rng.sample(circles[first], rng.randint(1, 5))]))
        wid = f"W{len(works)}"
        ships = []
        for position, person in enumerate(authors):
            ships.append(Authorship(position=position, name=variant(person_names[person], rng),
                                    institutions=[Institution(affiliations[person])] if rng.random() < 0.7 else []))
            truth[f"{wid}#{position}"] = person
        works.append(Work(id=wid, source="bench", source_id=wid, title=wid, authorships=ships))
        vector = fields[first] + 0.6 * np_rng.standard_normal(DIMENSION).astype(np.float32) / np.sqrt(DIMENSION)
        vectors[wid] = vector / np.linalg.norm(vector)
        made += len(ships)
    return works, vectors, truth


def clusters(resolution: identity.Resolution) -> list[list]:
    """Each researcher with its mentions, link methods and confidences, in a canonical order."""
    return sorted(
        [rid, sorted([m.key, resolution.links[m.key].method, resolution.links[m.key].confidence] for m in members)]
        for rid, members in resolution.members.items()
    )


def digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def resolve_records(paths: list[Path]) -> None:
    works = [parsed.work for path in paths for parsed in read_records(path) if parsed.work is not None]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    clock, cpu = time.perf_counter(), time.process_time()
    resolution = identity.resolve(works, {})
    seconds, cpu = time.perf_counter() - clock, time.process_time() - cpu
    print(json.dumps({
        "mentions": len(resolution.links), "works": len(works), "most_authors": max(len(w.authorships) for w in works),
        "resolve_s": round(seconds, 1), "resolve_cpu_s": round(cpu, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "peak_rss_before_resolve_mb": round(before), "researchers": len(resolution.members), "machine": describe(),
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--records", type=Path, nargs="+", help="resolve these OpenAlex/arXiv files instead")
    args = parser.parse_args()
    if args.records:
        resolve_records(args.records)
        return
    names = real_names([p for p in SOURCES if p.exists()])
    works, vectors, truth = synthetic(args.mentions, names)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    clock, cpu = time.perf_counter(), time.process_time()
    resolution = identity.resolve(works, vectors)
    seconds, cpu = time.perf_counter() - clock, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    predicted = {k: link.researcher_id for k, link in resolution.links.items()}
    labels = {k: str(v) for k, v in truth.items() if k in predicted}
    quality = score(predicted, labels, list(labels), "all")
    print(json.dumps({
        "mentions": len(truth), "works": len(works), "people": len(set(truth.values())),
        "distinct_real_names": len(names), "resolve_s": round(seconds, 1), "resolve_cpu_s": round(cpu, 1),
        "peak_rss_mb": round(peak), "peak_rss_before_resolve_mb": round(before),
        "researchers": len(resolution.members), "clusters_sha256": digest(clusters(resolution)),
        "pairwise_precision": quality.pairwise_precision, "pairwise_recall": quality.pairwise_recall,
        "machine": describe(),
    }))


if __name__ == "__main__":
    main()
