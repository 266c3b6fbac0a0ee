"""Collaborator recommendation on a temporal split: does "new collaborators" predict who
actually starts working together?

    result = evaluate_collaborators([ML_VENUES], Settings(), split_year=2020)
    print(result.table())

Protocol (link prediction on a co-authorship graph, after Liben-Nowell & Kleinberg, "The
link-prediction problem for social networks", 2007):
1. Identities are resolved once on the whole corpus, so one person has one id on both sides.
2. The index is built from the *history* only (works up to and including `split_year`), with the
   identity memory seeded from step 1 so history researchers keep those ids.
3. Truth: pairs of researchers who co-author a work after `split_year` and never did up to it,
   both active on both sides (at least one work in the history and one after).
4. For every researcher with at least one such new pair (or a seeded sample of them), each method
   ranks candidates from the history alone; recall@10, recall@20 and MRR (first new collaborator
   within the first 100) are averaged over researchers.

Methods: ours `similar` (nearest researcher vectors, existing co-authors allowed, as the page
shows them) and `collaborators` (existing co-authors excluded), both through
`Discovery.similar_researchers`; baselines `random`, `most prolific` (most history works),
`common neighbours`, `Adamic-Adar` (common neighbours weighted by 1 / log degree) and
`topic overlap` (cosine of topic-count vectors). Baselines never propose existing co-authors or
the researcher; graph baselines only rank researchers two hops away (they have no score for others).
`collaborators+adamic-adar` fuses our `collaborators` ranking with Adamic-Adar by reciprocal rank
fusion: what a graph signal would add to the product's ranking (it is not what the product does).
"""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from indexer import identity
from evaluation import metrics as M
from evaluation.scratch import SHARED_DATA, cached_vectors, scratch_index
from indexer.sources import SourceError, read_records
from models.embedding import Embedder
from models.records import Work
from models.settings import Settings
from search.fusion import rrf

ML_VENUES = SHARED_DATA / "ml-venues.openalex.jsonl.gz"
DEFAULT_SPLIT_YEAR = 2020
DEPTH = 100
METHODS = (
    "similar", "collaborators", "random", "most prolific", "common neighbours", "adamic-adar", "topic overlap",
    "collaborators+adamic-adar",
)
METRICS = ("recall@10", "recall@20", "mrr")


@dataclass
class MethodScores:
    method: str
    queries: int
    scores: dict[str, float]
    seconds: float


@dataclass
class CollaboratorResult:
    corpus: list[str]
    split_year: int
    engine: str
    history_works: int
    future_works: int
    history_researchers: int
    researchers_both_sides: int
    new_pairs: int
    """Distinct new co-author pairs (both researchers active on both sides)."""
    eligible_researchers: int
    evaluated_researchers: int
    id_agreement: float
    """Share of history mentions whose history-index researcher is the whole-corpus one."""
    methods: list[MethodScores]
    seconds: dict[str, float]

    def method(self, name: str) -> MethodScores:
        return next(m for m in self.methods if m.method == name)

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        lines = [
            f"collaborator prediction on {', '.join(Path(c).name for c in self.corpus)}: history <= {self.split_year} "
            f"({self.history_works} works, {self.history_researchers} researchers), after: {self.future_works} works",
            f"{self.researchers_both_sides} researchers active on both sides; {self.new_pairs} new co-author pairs among them; "
            f"{self.evaluated_researchers} of {self.eligible_researchers} researchers with a new pair evaluated; "
            f"engine {self.engine}; identity agreement {self.id_agreement:.3f}",
            "",
            f"{'method':<27}" + "".join(f"{m:>11}" for m in METRICS) + f"{'ms/query':>11}",
        ]
        for m in self.methods:
            per_query = 1000 * m.seconds / max(1, m.queries)
            lines.append(f"{m.method:<27}" + "".join(f"{m.scores[k]:>11.4f}" for k in METRICS) + f"{per_query:>11.1f}")
        lines.append(f"\n({', '.join(f'{k} {v:.1f}s' for k, v in self.seconds.items())})")
        return "\n".join(lines)


def read_works(paths: Sequence[Path]) -> list[Work]:
    works: dict[str, Work] = {}
    for path in paths:
        for parsed in read_records(Path(path)):
            if parsed.work is not None:
                works[parsed.work.id] = parsed.work
    return list(works.values())


def _pairs(groups: Sequence[set[str]]) -> dict[str, set[str]]:
    """Researcher -> co-authors, from the author sets of works."""
    neighbours: dict[str, set[str]] = defaultdict(set)
    for group in groups:
        for a in group:
            neighbours[a].update(b for b in group if b != a)
    return neighbours


def scores_for(ranking: Sequence[str], truth: set[str]) -> dict[str, float]:
    return {
        "recall@10": M.recall_at_k(ranking, truth, 10),
        "recall@20": M.recall_at_k(ranking, truth, 20),
        "mrr": M.reciprocal_rank(ranking, truth, DEPTH),
    }


class _Baselines:
    """The history graph and topic profiles, and the baseline rankers over them."""

    def __init__(self, corpus, seed: int):
        self.researchers = {r.id: r for r in corpus.researchers()}
        self.neighbours = _pairs([set(w.researcher_ids) for w in corpus.works()])
        self.prolific = sorted(self.researchers, key=lambda r: (-self.researchers[r].works_count, r))
        self.pool = sorted(self.researchers)
        self.rng = random.Random(seed)
        # Topic profiles as one sparse-like dense block per query: researchers x topics counts.
        topic_ids = sorted({t.id for r in self.researchers.values() for t in r.topics})
        column = {t: i for i, t in enumerate(topic_ids)}
        self.row = {rid: i for i, rid in enumerate(self.pool)}
        from scipy.sparse import csr_matrix

        rows, cols, vals = [], [], []
        for rid in self.pool:
            for t in self.researchers[rid].topics:
                rows.append(self.row[rid]), cols.append(column[t.id]), vals.append(float(t.count))
        matrix = csr_matrix((vals, (rows, cols)), shape=(len(self.pool), max(1, len(topic_ids))), dtype=np.float32)
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        from scipy.sparse import diags

        self.topics = (diags(1.0 / norms) @ matrix).tocsr()
        self.topics_t = self.topics.T.tocsr()

    def excluded(self, rid: str) -> set[str]:
        return self.neighbours.get(rid, set()) | {rid}

    def random(self, rid: str) -> list[str]:
        skip = self.excluded(rid)
        picks: list[str] = []
        while len(picks) < DEPTH and len(picks) < len(self.pool) - len(skip):
            candidate = self.pool[self.rng.randrange(len(self.pool))]
            if candidate not in skip and candidate not in picks:
                picks.append(candidate)
        return picks

    def most_prolific(self, rid: str) -> list[str]:
        skip = self.excluded(rid)
        return [r for r in self.prolific[: DEPTH + len(skip)] if r not in skip][:DEPTH]

    def _two_hop(self, rid: str, weight: Callable[[str], float]) -> list[str]:
        skip = self.excluded(rid)
        scores: dict[str, float] = defaultdict(float)
        for middle in self.neighbours.get(rid, ()):
            w = weight(middle)
            for candidate in self.neighbours[middle]:
                if candidate not in skip:
                    scores[candidate] += w
        ranked = sorted(scores, key=lambda c: (-scores[c], -self.researchers[c].works_count if c in self.researchers else 0, c))
        return ranked[:DEPTH]

    def common_neighbours(self, rid: str) -> list[str]:
        return self._two_hop(rid, lambda middle: 1.0)

    def adamic_adar(self, rid: str) -> list[str]:
        return self._two_hop(rid, lambda middle: 1.0 / math.log(max(2, len(self.neighbours[middle]))))

    def topic_overlap(self, rid: str) -> list[str]:
        if rid not in self.row:
            return []
        scores = np.asarray((self.topics @ self.topics[self.row[rid]].T).todense()).ravel()
        skip = [self.row[r] for r in self.excluded(rid) if r in self.row]
        scores[skip] = -1.0
        positive = np.flatnonzero(scores > 0)
        if not len(positive):
            return []
        top = positive[np.lexsort((positive, -scores[positive]))][:DEPTH]
        return [self.pool[i] for i in top]


def evaluate_collaborators(
    paths: Sequence[Path],
    settings: Settings,
    split_year: int = DEFAULT_SPLIT_YEAR,
    sample: int | None = 1000,
    seed: int = 13,
    embedder: Embedder | None = None,
    vector_cache: Path | None = None,
    scratch_dir: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> CollaboratorResult:
    """Build the history index on the configured engine, derive the truth, score every method."""
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    embedder = embedder or settings.embedder()
    works = [w for w in read_works(paths) if w.year is not None]
    history = [w for w in works if w.year <= split_year]
    future = [w for w in works if w.year > split_year]
    if not history or not future:
        raise SourceError(f"split year {split_year} leaves no history or no future works")
    vectors = cached_vectors(works, embedder, vector_cache or Path(settings.data_dir) / "vector-cache.sqlite", progress)
    seconds["read+embed"] = time.perf_counter() - clock

    clock = time.perf_counter()
    whole = identity.resolve(works, vectors)
    full_ids = {key: link.researcher_id for key, link in whole.links.items()}
    history_ids = {w.id for w in history}
    seeded = {key: rid for key, rid in full_ids.items() if key.rsplit("#", 1)[0] in history_ids}
    seconds["identity (whole corpus)"] = time.perf_counter() - clock

    clock = time.perf_counter()
    with scratch_index(history, settings, embedder, vector_cache, scratch_dir, seeded, progress) as built:
        seconds["history index"] = time.perf_counter() - clock
        clock = time.perf_counter()
        agreement = M.mean(1.0 if built.catalog_mentions.get(k) == rid else 0.0 for k, rid in seeded.items())
        base = _Baselines(built.corpus, seed)
        hist_researchers = set(base.researchers)
        future_groups = [
            {full_ids[f"{w.id}#{a.position}"] for a in w.authorships if f"{w.id}#{a.position}" in full_ids}
            for w in future
        ]
        future_neighbours = _pairs(future_groups)
        both_sides = {r for r in future_neighbours if r in hist_researchers} | {
            r for group in future_groups for r in group if r in hist_researchers
        }
        truth: dict[str, set[str]] = {}
        for rid in both_sides:
            new = {
                v for v in future_neighbours.get(rid, ())
                if v in hist_researchers and v != rid and v not in base.neighbours.get(rid, set())
            }
            if new:
                truth[rid] = new
        new_pairs = len({tuple(sorted((u, v))) for u, vs in truth.items() for v in vs})
        has_vector = set(built.engine.researcher_vectors(sorted(truth)))
        eligible = sorted(r for r in truth if r in has_vector)
        chosen = eligible
        if sample is not None and len(eligible) > sample:
            chosen = sorted(random.Random(seed).sample(eligible, sample))
        seconds["truth"] = time.perf_counter() - clock

        service = built.discovery
        rankers: dict[str, Callable[[str], list[str]]] = {
            "similar": lambda r: [s.researcher.id for s in service.similar_researchers(r, "similar", DEPTH)],
            "collaborators": lambda r: [s.researcher.id for s in service.similar_researchers(r, "collaborators", DEPTH)],
            "random": base.random,
            "most prolific": base.most_prolific,
            "common neighbours": base.common_neighbours,
            "adamic-adar": base.adamic_adar,
            "topic overlap": base.topic_overlap,
            "collaborators+adamic-adar": lambda r: [
                i for i, _ in rrf([rankings["collaborators"][r], rankings["adamic-adar"][r]])
            ][:DEPTH],
        }
        rankings: dict[str, dict[str, list[str]]] = {name: {} for name in METHODS}
        methods = []
        for name in METHODS:
            clock = time.perf_counter()
            per_query = []
            for n, rid in enumerate(chosen, start=1):
                rankings[name][rid] = rankers[name](rid)
                per_query.append(scores_for(rankings[name][rid], truth[rid]))
                if progress:
                    progress(f"rank {name}", n, len(chosen))
            methods.append(
                MethodScores(name, len(per_query), {m: M.mean(q[m] for q in per_query) for m in METRICS},
                             round(time.perf_counter() - clock, 2))
            )
        engine_name = built.settings.engine
    return CollaboratorResult(
        corpus=[str(p) for p in paths],
        split_year=split_year,
        engine=engine_name,
        history_works=len(history),
        future_works=len(future),
        history_researchers=len(hist_researchers),
        researchers_both_sides=len(both_sides),
        new_pairs=new_pairs,
        eligible_researchers=len(eligible),
        evaluated_researchers=len(chosen),
        id_agreement=round(agreement, 4),
        methods=methods,
        seconds={k: round(v, 2) for k, v in seconds.items()},
    )
