"""Collaborator recommendation on temporal splits: does "new collaborators" predict who actually
starts working together, and does it beat the graph baselines?

    result = evaluate_collaborators([ML_VENUES], Settings())   # validation 2018 | test 2020
    print(result.table())

Protocol (link prediction on a co-authorship graph, after Liben-Nowell & Kleinberg, "The
link-prediction problem for social networks", 2007):
1. Identities are resolved once on the whole corpus, so one person has one id on every side.
2. Validation: an index of the works up to `validation_year` (identity memory seeded from step 1);
   truth: pairs who first co-author a work in (`validation_year`, `split_year`]. Every parameter
   combination of the new-collaborator blend (`search.service.blend_collaborators`) is scored there
   by recall@20; the best is "validation blend" (differences under TIE are noise, and then the
   simpler blend wins: no topics before topics, a lower content power before a higher one).
3. Test (held out, reported): an index of the works up to `split_year`; truth: pairs who first
   co-author after it. Both researchers of a pair are active on both sides of the split.
4. For every researcher with at least one new pair (or a seeded sample of them), each method ranks
   candidates from the history alone; recall@10, recall@20 and MRR (first new collaborator within
   the first 100) are averaged over researchers.

Methods: `collaborators` (the product's ranking: its candidates and signals blended with
`search.service.COLLABORATOR_BLEND`, without the explanations), `validation blend` (the blend this
run chose), `content only` (researcher-vector cosine alone: what the product did before the blend),
`similar` (the profile's "similar researchers", unexplained);
baselines `random`, `most prolific` (most history works), `common neighbours`, `Adamic-Adar`
(common neighbours weighted by 1 / log degree) and `topic overlap` (cosine of topic-count
vectors). No method proposes existing co-authors or the researcher; graph baselines only rank
researchers two hops away (they have no score for others).
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from indexer import identity
from evaluation import metrics as M
from evaluation.scratch import SHARED_DATA, cached_vectors, scratch_index
from indexer.sources import SourceError, read_records
from models.embedding import Embedder
from models.records import Work
from models.settings import Settings
from search.service import COLLABORATOR_BLEND, CollaboratorBlend, blend_collaborators

ML_VENUES = SHARED_DATA / "ml-venues.openalex.jsonl.gz"
DEFAULT_SPLIT_YEAR = 2020
DEFAULT_VALIDATION_YEAR = 2018
DEPTH = 100
METHODS = (
    "collaborators", "validation blend", "content only", "similar", "random", "most prolific", "common neighbours",
    "adamic-adar", "topic overlap",
)
BLEND_GRID = {"prior": (0.05, 0.1, 0.2, 0.5, 1.0), "content_power": (1.0, 2.0, 4.0), "topics": (0.0, 0.5, 1.0)}
"""The values each blend parameter takes on the validation split."""
TIE = 0.001
"""Recall@20 differences below this count as ties (the standard error on 1000 researchers is ~0.01)."""
VALIDATION_ROWS = 5
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
    validation_year: int | None
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
    product_blend: dict[str, float]
    validation: list[dict[str, float]]
    """The best blend parameters on the validation split with their recall@20, best first."""
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
        if self.validation:
            lines.append(f"\nblend chosen on validation (history <= {self.validation_year}, pairs formed "
                         f"{self.validation_year + 1}-{self.split_year}), best first; the product uses {self.product_blend}:")
            lines += [f"  prior {v['prior']:<5} content power {v['content_power']:<5} topics {v['topics']:<5} "
                      f"recall@20 {v['recall@20']:.4f}" for v in self.validation]
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


@dataclass
class _Split:
    """One temporal split: the history index and, per evaluated researcher, the new co-authors."""

    built: object
    base: _Baselines
    truth: dict[str, set[str]]
    chosen: list[str]
    eligible: int
    new_pairs: int
    both_sides: int
    agreement: float


@contextmanager
def _split(works, full_ids, history_end, future_end, settings, embedder, vector_cache, scratch_dir,
           sample, seed, progress) -> Iterator[_Split]:
    """History (works up to `history_end`) indexed with the whole corpus's researcher ids; truth:
    pairs first co-authoring in (history_end, future_end], both researchers active on both sides."""
    history = [w for w in works if w.year <= history_end]
    future = [w for w in works if history_end < w.year and (future_end is None or w.year <= future_end)]
    if not history or not future:
        raise SourceError(f"split year {history_end} leaves no history or no later works")
    history_ids = {w.id for w in history}
    seeded = {key: rid for key, rid in full_ids.items() if key.rsplit("#", 1)[0] in history_ids}
    with scratch_index(history, settings, embedder, vector_cache, scratch_dir, seeded, progress) as built:
        agreement = M.mean(1.0 if built.catalog_mentions.get(k) == rid else 0.0 for k, rid in seeded.items())
        base = _Baselines(built.corpus, seed)
        hist_researchers = set(base.researchers)
        future_groups = [
            {full_ids[f"{w.id}#{a.position}"] for a in w.authorships if f"{w.id}#{a.position}" in full_ids}
            for w in future
        ]
        future_neighbours = _pairs(future_groups)
        both_sides = {r for group in future_groups for r in group if r in hist_researchers}
        truth: dict[str, set[str]] = {}
        for rid in both_sides:
            new = {
                v for v in future_neighbours.get(rid, ())
                if v in hist_researchers and v != rid and v not in base.neighbours.get(rid, set())
            }
            if new:
                truth[rid] = new
        has_vector = set(built.engine.researcher_vectors(sorted(truth)))
        eligible = sorted(r for r in truth if r in has_vector)
        chosen = eligible
        if sample is not None and len(eligible) > sample:
            chosen = sorted(random.Random(seed).sample(eligible, sample))
        new_pairs = len({tuple(sorted((u, v))) for u, vs in truth.items() for v in vs})
        yield _Split(built, base, truth, chosen, len(eligible), new_pairs, len(both_sides), agreement)


def _signals(service, rid: str) -> dict:
    """Every candidate new collaborator of `rid` with its signals, as the product computes them."""
    researcher = service.engine.get_researchers([rid])[0]
    vector = service.engine.researcher_vectors([rid])[rid]
    return service.collaborator_signals(researcher, service.engine.get_works(researcher.work_ids), vector)


def choose_blend(signals: dict[str, dict], truth: dict[str, set[str]]) -> list[tuple[CollaboratorBlend, float]]:
    """Every parameter combination of BLEND_GRID with its mean recall@20, best first; those within TIE
    of the best come first, the simpler blend first among them."""
    scored = []
    for values in itertools.product(*BLEND_GRID.values()):
        blend = CollaboratorBlend(**dict(zip(BLEND_GRID, values)))
        recall = M.mean(
            M.recall_at_k(blend_collaborators(found, blend)[:DEPTH], truth[rid], 20) for rid, found in signals.items()
        )
        scored.append((blend, recall))
    best = max(recall for _, recall in scored)

    def order(item: tuple[CollaboratorBlend, float]) -> tuple:
        blend, recall = item
        tied = recall >= best - TIE
        return (not tied, blend.topics if tied else 0.0, blend.content_power if tied else 0.0, -recall)

    return sorted(scored, key=order)


def evaluate_collaborators(
    paths: Sequence[Path],
    settings: Settings,
    split_year: int = DEFAULT_SPLIT_YEAR,
    validation_year: int | None = DEFAULT_VALIDATION_YEAR,
    sample: int | None = 1000,
    seed: int = 13,
    embedder: Embedder | None = None,
    vector_cache: Path | None = None,
    scratch_dir: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> CollaboratorResult:
    """Choose the blend on the validation split, then score every method on the test split.

    Validation: history up to `validation_year`, truth the pairs formed up to `split_year`. Test:
    history up to `split_year`, truth the pairs formed after it. `validation_year=None` skips the
    validation (the blend then uses the product's COLLABORATOR_BLEND only).
    """
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    embedder = embedder or settings.embedder()
    works = [w for w in read_works(paths) if w.year is not None]
    vectors = cached_vectors(works, embedder, vector_cache or Path(settings.data_dir) / "vector-cache.sqlite", progress)
    seconds["read+embed"] = time.perf_counter() - clock

    clock = time.perf_counter()
    whole = identity.resolve(works, vectors)
    full_ids = {key: link.researcher_id for key, link in whole.links.items()}
    seconds["identity (whole corpus)"] = time.perf_counter() - clock
    common = (settings, embedder, vector_cache, scratch_dir, sample, seed, progress)

    validation: list[tuple[CollaboratorBlend, float]] = []
    if validation_year is not None:
        clock = time.perf_counter()
        with _split(works, full_ids, validation_year, split_year, *common) as split:
            service = split.built.discovery
            found = {}
            for n, rid in enumerate(split.chosen, start=1):
                found[rid] = _signals(service, rid)
                if progress:
                    progress("validation signals", n, len(split.chosen))
            validation = choose_blend(found, split.truth)
        seconds["validation"] = time.perf_counter() - clock
    chosen_blend = validation[0][0] if validation else COLLABORATOR_BLEND

    clock = time.perf_counter()
    with _split(works, full_ids, split_year, None, *common) as split:
        seconds["history index + truth"] = time.perf_counter() - clock
        service, base = split.built.discovery, split.base
        signals: dict[str, dict] = {}

        def found(rid: str) -> dict:
            if rid not in signals:
                signals[rid] = _signals(service, rid)
            return signals[rid]

        def blend(chosen: CollaboratorBlend) -> Callable[[str], list[str]]:
            return lambda rid: blend_collaborators(found(rid), chosen)[:DEPTH]

        def content_only(rid: str) -> list[str]:
            return sorted(found(rid), key=lambda c: (-found(rid)[c].content, c))[:DEPTH]

        def similar(rid: str) -> list[str]:
            researcher = service.engine.get_researchers([rid])[0]
            vector = service.engine.researcher_vectors([rid])[rid]
            works = service.engine.get_works(researcher.work_ids)
            return [r for r, _ in service.nearest_researchers(researcher, works, vector, DEPTH)]

        rankers: dict[str, Callable[[str], list[str]]] = {
            "collaborators": blend(COLLABORATOR_BLEND),
            "validation blend": blend(chosen_blend),
            "content only": content_only,
            "similar": similar,
            "random": base.random,
            "most prolific": base.most_prolific,
            "common neighbours": base.common_neighbours,
            "adamic-adar": base.adamic_adar,
            "topic overlap": base.topic_overlap,
        }
        methods = []
        for name in METHODS:
            clock = time.perf_counter()
            per_query = []
            for n, rid in enumerate(split.chosen, start=1):
                per_query.append(scores_for(rankers[name](rid), split.truth[rid]))
                if progress:
                    progress(f"rank {name}", n, len(split.chosen))
            methods.append(
                MethodScores(name, len(per_query), {m: M.mean(q[m] for q in per_query) for m in METRICS},
                             round(time.perf_counter() - clock, 2))
            )
        result = CollaboratorResult(
            corpus=[str(p) for p in paths],
            split_year=split_year,
            validation_year=validation_year,
            engine=split.built.settings.engine,
            history_works=sum(1 for w in works if w.year <= split_year),
            future_works=sum(1 for w in works if w.year > split_year),
            history_researchers=len(base.researchers),
            researchers_both_sides=split.both_sides,
            new_pairs=split.new_pairs,
            eligible_researchers=split.eligible,
            evaluated_researchers=len(split.chosen),
            id_agreement=round(split.agreement, 4),
            product_blend=asdict(COLLABORATOR_BLEND),
            validation=[{**asdict(w), "recall@20": round(r, 4)} for w, r in validation[:VALIDATION_ROWS]],
            methods=methods,
            seconds={k: round(v, 2) for k, v in seconds.items()},
        )
    return result
