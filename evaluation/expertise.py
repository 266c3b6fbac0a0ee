"""Expertise ranking on held-out papers: given an unseen paper of a researcher, does "who knows
about this?" rank its author first among researchers of the same field?

    result = evaluate_expertise([ML_VENUES], Settings())
    print(result.table())

Development set built from our own data (no outside gold standard is shipped):
1. Identities are resolved once on the whole corpus (one person, one id).
2. For a seeded sample of researchers with at least MIN_WORKS works, their newest work is held
   out: removed from the index, which is built from every other work with those ids.
3. Candidates for a held-out paper: its author plus the researchers with the most works on the
   author's main topic in the index (the same field), up to CANDIDATES; the paper's other authors
   are left out, so exactly one candidate is right.
4. Each method ranks the candidates for the paper's title and abstract; accuracy@1 (the author
   first), MRR and the mean rank are averaged over papers.

Methods: `expertise` (`Discovery.expertise` scoring the candidate list: the product), `people by
expertise` (`Discovery.search_people(by="expertise")`, what the product did before: candidates it
does not return rank last), `max work cosine` (the plain baseline: each researcher's best work
cosine to one embedding of the text, no recency, no pieces), `researcher vector, first window` and
`researcher vector, passage mean` (cosine of the text to each researcher's vector, the text read by
the model's first window only, or whole as passages of the window averaged: `models.embedding.Embedder`).

A hash of the held-out paper's id puts it in `dev` (where the product's reading of the text was
chosen) or `test` (reported); `split` picks the half papers are held out from.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from evaluation import metrics as M
from evaluation.collaborators import ML_VENUES, read_works
from evaluation.scratch import cached_vectors, scratch_index
from evaluation.topics import in_split
from indexer import identity
from indexer.sources import SourceError
from models.embedding import Embedder
from models.settings import Settings
from search.interface import MAX_PAGE_SIZE

MIN_WORKS = 4
CANDIDATES = 50
METHODS = ("expertise", "people by expertise", "max work cosine", "researcher vector, first window",
           "researcher vector, passage mean")
METRICS = ("accuracy@1", "mrr", "mean rank")

__all__ = ["ML_VENUES", "evaluate_expertise"]


@dataclass
class ExpertiseScores:
    method: str
    papers: int
    scores: dict[str, float]
    seconds: float


@dataclass
class ExpertiseResult:
    corpus: list[str]
    engine: str
    indexed_works: int
    held_out: int
    evaluated: int
    mean_candidates: float
    methods: list[ExpertiseScores]
    seconds: dict[str, float]
    split: str = "test"

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        lines = [
            f"expertise on {', '.join(Path(c).name for c in self.corpus)}: {self.held_out} held-out {self.split} papers "
            f"({self.evaluated} with a field to rank in), {self.indexed_works} works indexed, "
            f"{self.mean_candidates:.1f} same-field candidates per paper; engine {self.engine}",
            "",
            f"{'method':<22}" + "".join(f"{m:>12}" for m in METRICS) + f"{'ms/paper':>11}",
        ]
        for m in self.methods:
            per = 1000 * m.seconds / max(1, m.papers)
            lines.append(f"{m.method:<22}" + "".join(f"{m.scores[k]:>12.4f}" for k in METRICS) + f"{per:>11.1f}")
        lines.append(f"\n({', '.join(f'{k} {v:.1f}s' for k, v in self.seconds.items())})")
        return "\n".join(lines)


def _rank_of(author: str, ranking: Sequence[str], candidates: Sequence[str]) -> int:
    """1-based rank of the author among the candidates (missing from the ranking: last)."""
    ordered = [r for r in dict.fromkeys(ranking) if r in set(candidates)]
    return ordered.index(author) + 1 if author in ordered else len(candidates)


def evaluate_expertise(
    paths: Sequence[Path],
    settings: Settings,
    sample: int | None = 300,
    seed: int = 17,
    embedder: Embedder | None = None,
    vector_cache: Path | None = None,
    scratch_dir: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    split: str = "test",
) -> ExpertiseResult:
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    embedder = embedder or settings.embedder()
    works = read_works(paths)
    vectors = cached_vectors(works, embedder, vector_cache or Path(settings.data_dir) / "vector-cache.sqlite", progress)
    whole = identity.resolve(works, vectors)
    ids = {key: link.researcher_id for key, link in whole.links.items()}
    seconds["read+embed+identity"] = time.perf_counter() - clock

    authors_of: dict[str, list[str]] = {}
    by_researcher: dict[str, list] = {}
    for work in works:
        authors_of[work.id] = list(dict.fromkeys(ids[k] for a in work.authorships if (k := f"{work.id}#{a.position}") in ids))
        for rid in authors_of[work.id]:
            by_researcher.setdefault(rid, []).append(work)
    eligible = sorted(r for r, found in by_researcher.items() if len(found) >= MIN_WORKS)
    rng = random.Random(seed)
    rng.shuffle(eligible)
    held: dict[str, str] = {}  # work id -> the researcher it is held out for
    for rid in eligible:
        newest = max(by_researcher[rid], key=lambda w: (w.year or 0, w.id))
        if newest.id not in held and newest.abstract and in_split(newest.id, split):
            held[newest.id] = rid
        if sample is not None and len(held) >= sample:
            break
    if not held:
        raise SourceError(f"no researcher has {MIN_WORKS} works with an abstract to hold one out")
    kept = [w for w in works if w.id not in held]
    seeded = {k: rid for k, rid in ids.items() if k.rsplit("#", 1)[0] not in held}
    texts = {w.id: f"{w.title}. {w.abstract}" for w in works if w.id in held}

    clock = time.perf_counter()
    with scratch_index(kept, settings, embedder, vector_cache, scratch_dir, seeded, progress) as built:
        seconds["index"] = time.perf_counter() - clock
        service, engine = built.discovery, built.engine
        papers = []
        for wid, rid in sorted(held.items()):
            doc = engine.get_researchers([rid])
            if not doc or not doc[0].topics:
                continue
            field = [r for r, _ in engine.topic_researchers(doc[0].topics[0].id, CANDIDATES + 10)]
            others = set(authors_of[wid]) - {rid}
            candidates = [rid] + [r for r in field if r != rid and r not in others][: CANDIDATES - 1]
            if len(candidates) > 1:
                papers.append((wid, rid, candidates))

        def by_expertise(text: str, candidates: list[str]) -> list[str]:
            return [e.researcher.id for e in service.expertise(text, researcher_ids=candidates, limit=MAX_PAGE_SIZE).hits]

        def by_people(text: str, candidates: list[str]) -> list[str]:
            return [h.researcher.id for h in service.search_people(text, limit=MAX_PAGE_SIZE, by="expertise").hits]

        def by_max_cosine(text: str, candidates: list[str]) -> list[str]:
            query = np.asarray(service.embed(text), dtype=np.float32)
            people = engine.get_researchers(candidates)
            vectors = engine.work_vectors(sorted({w for p in people for w in p.work_ids}))
            score = {
                p.id: max((float(np.asarray(vectors[w], dtype=np.float32) @ query) for w in p.work_ids if w in vectors),
                          default=-1.0)
                for p in people
            }
            return sorted(score, key=lambda r: (-score[r], r))

        def by_vector(reader: Embedder) -> Callable[[str, list[str]], list[str]]:
            def rank(text: str, candidates: list[str]) -> list[str]:
                query = reader.embed_one(text)
                found = engine.researcher_vectors(candidates)
                score = {r: float(np.asarray(v, dtype=np.float32) @ query) for r, v in found.items()}
                return sorted(score, key=lambda r: (-score[r], r))
            return rank

        first, whole = (Embedder(embedder.model_name, embedder.batch_size, embedder.max_tokens, embedder.threads,
                                 embedder.backend, embedder.export_dir, passages=passages) for passages in (False, True))
        rankers = {"expertise": by_expertise, "people by expertise": by_people, "max work cosine": by_max_cosine,
                   "researcher vector, first window": by_vector(first), "researcher vector, passage mean": by_vector(whole)}
        methods = []
        for name in METHODS:
            clock = time.perf_counter()
            ranks = []
            for n, (wid, rid, candidates) in enumerate(papers, start=1):
                ranks.append(_rank_of(rid, rankers[name](texts[wid], candidates), candidates))
                if progress:
                    progress(f"rank {name}", n, len(papers))
            methods.append(ExpertiseScores(name, len(ranks), {
                "accuracy@1": M.mean(1.0 if r == 1 else 0.0 for r in ranks),
                "mrr": M.mean(1.0 / r for r in ranks),
                "mean rank": M.mean(float(r) for r in ranks),
            }, round(time.perf_counter() - clock, 2)))
        engine_name = built.settings.engine
    return ExpertiseResult(
        corpus=[str(p) for p in paths],
        engine=engine_name,
        indexed_works=len(kept),
        held_out=len(held),
        evaluated=len(papers),
        mean_candidates=round(M.mean(float(len(c)) for _, _, c in papers), 2),
        methods=methods,
        seconds={k: round(v, 2) for k, v in seconds.items()},
        split=split,
    )
