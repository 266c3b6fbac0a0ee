"""Relevance on a judged collection: index it, run every search mode, score the rankings.

    result = evaluate_relevance(load_collection("cacm"), Settings())
    print(result.table())

Every query runs through `Discovery.work_ranking` (the ranking pages and the CLI slice) in each
of four modes: keyword (BM25), semantic (cosine), hybrid with reciprocal rank fusion and hybrid with
the min-max weighted sum; `SHOWN_RUNS` also score the hits `Discovery.search_works` shows. Beside them, in the same run, a plain reference that shares nothing with
the engines: FTS5 BM25 over title (weight 2) and abstract with the porter tokenizer, exact cosine
over the model read at its full window (one vector per text, no passages), and RRF (k=60) of the
two, so a mode scoring below its reference is visible at once. Every fusion in `FUSION_CANDIDATES`
is also scored on the engine's own keyword and vector lists; `cross_validate` picks a fusion on
some collections and scores it on the held-out one. The first page of 100 results (the interface's largest page) is scored:
nDCG@10, MAP (average precision over those 100 ranks), recall@100 and MRR. Queries without any
judged-relevant document in the collection are skipped, as trec_eval does.

A collection is `cacm` or `cisi` (the SMART files in ../shared/data/cacm and cisi), a directory holding documents
(`*.all` SMART files or OpenAlex/arXiv JSON lines), one query file (`query.text`, `queries.tsv`,
`topics*`) and one qrels file (`qrels*`), or a JSON manifest
`{"name": ..., "documents": [...], "queries": ..., "qrels": ..., "format": ...}` with paths
relative to the manifest.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from evaluation import metrics as M
from evaluation.scratch import SHARED_DATA, cached_vectors, default_vector_cache, scratch_index
from indexer.sources import SourceError, read_records
from indexer.sources.cacm import VENUES, Query, read_qrels, read_queries
from models.embedding import Embedder
from models.records import Work
from models.settings import Settings
from search import fusion as F
from search import text as T
from search.fusion import DEFAULT_FUSION
from search.interface import MAX_PAGE_SIZE, MAX_RESULT_WINDOW, SearchError, WorkFilters

RUNS: tuple[tuple[str, str, str], ...] = (
    ("keyword", "keyword", "rrf"),
    ("semantic", "semantic", "rrf"),
    ("hybrid+rrf", "hybrid", "rrf"),
    ("hybrid+weighted", "hybrid", "weighted"),
)
"""(label, mode, fusion) of every run, scored on the mode's whole ranking (`Discovery.work_ranking`);
fusion only matters for hybrid."""
SHOWN_RUNS: tuple[tuple[str, str, str], ...] = (
    ("semantic shown", "semantic", "rrf"),
    ("hybrid shown", "hybrid", DEFAULT_FUSION),
)
"""The same modes as the search page's hits (`search_works`): semantic keeps only neighbours above the
similarity floor and hybrid only works matching the words (its other neighbours go to `related`), so
these rows show what those cuts cost; the verdicts use the whole rankings."""
REFERENCE_RUNS = ("reference keyword", "reference semantic", "reference hybrid")
"""The plain reference's runs, compared with keyword, semantic and the default hybrid."""
REFERENCE_TITLE_WEIGHT = 2.0
REFERENCE_WINDOW = 512
"""Word pieces the reference embedder asks for: `Embedder` caps it at the model's own window."""
FUSION_DEPTH = MAX_RESULT_WINDOW
"""Candidates each list gives the fusion study (the deepest list a search can fetch)."""
FUSION_CANDIDATES: dict[str, Callable[[list, list], list]] = {
    **{
        f"rrf k={k} depth={d}": (lambda kw, vec, k=k, d=d: F.rrf([kw[:d], vec[:d]], k=k))
        for k in (10, 30, 60, 100)
        for d in (100, FUSION_DEPTH)
    },
    **{
        f"weighted {w:.1f}/{1 - w:.1f} depth={d}": (lambda kw, vec, w=w, d=d: F.weighted([kw[:d], vec[:d]], (w, 1 - w)))
        for w in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
        for d in (100, FUSION_DEPTH)
    },
}
"""Fusions scored on every collection (keyword weight / vector weight for the weighted sum)."""
DEPTH = MAX_PAGE_SIZE
DEVELOPMENT_SETS = ("cacm", "cisi")
"""The judged collections beside a checkout (../shared/data) that `discovery eval` runs by default."""
METRICS = ("ndcg@10", "map", "recall@100", "mrr", "p@10")


# -- collections ---------------------------------------------------------------------------------


@dataclass
class Collection:
    name: str
    documents: list[Path]
    queries: list[Query]
    qrels: dict[str, dict[str, int]]
    fmt: str | None = None
    works: list[Work] | None = None
    """Explicit works (a subset); None reads `documents`."""

    def load_works(self) -> tuple[list[Work], list[str]]:
        """The collection's works and the reasons any record was rejected."""
        if self.works is not None:
            return list(self.works), []
        works: dict[str, Work] = {}
        rejected: list[str] = []
        for path in self.documents:
            for parsed in read_records(path, self.fmt):
                if parsed.work is None:
                    rejected.append(f"{path}:{parsed.line}: {parsed.reason}")
                else:
                    works[parsed.work.id] = parsed.work
        return list(works.values()), rejected


def _one(directory: Path, patterns: Sequence[str], what: str) -> Path:
    for pattern in patterns:
        found = sorted(p for p in directory.glob(pattern) if p.is_file())
        if found:
            return found[0]
    raise SourceError(f"{directory}: no {what} file ({', '.join(patterns)})")


def load_collection(target: str | Path) -> Collection:
    """`cacm`, `cisi`, a collection directory or a JSON manifest (see the module docstring)."""
    if str(target) in DEVELOPMENT_SETS:
        name = str(target)
        target = SHARED_DATA / name
        if not target.is_dir():
            raise SourceError(f"the {name.upper()} collection is not at {target}; pass its directory instead")
    path = Path(target)
    if path.is_file() and path.suffix == ".json":
        spec = json.loads(path.read_text())
        base = path.parent
        return Collection(
            name=spec.get("name") or path.stem,
            documents=[base / d for d in spec["documents"]],
            queries=read_queries(base / spec["queries"]),
            qrels=read_qrels(base / spec["qrels"]),
            fmt=spec.get("format"),
        )
    if not path.is_dir():
        raise SourceError(f"{path}: not a collection directory, a JSON manifest or 'cacm'")
    queries = _one(path, ("query.text", "queries.tsv", "queries.txt", "topics*", "*.queries", "*.QRY"), "queries")
    qrels = _one(path, ("qrels.text", "qrels*", "*.qrels", "*.REL"), "qrels")
    documents = sorted(p for p in [*path.glob("*.all"), *path.glob("*.ALL")] if p.is_file()) or sorted(
        p for p in path.iterdir() if p.is_file() and (p.name.endswith((".jsonl", ".jsonl.gz")))
    )
    if not documents:
        raise SourceError(f"{path}: no documents (*.all, *.jsonl, *.jsonl.gz)")
    return Collection(path.name, documents, read_queries(queries), read_qrels(qrels))


def doc_id_map(works: Sequence[Work]) -> dict[str, str]:
    """Every way a qrels file may name a work (its id, its source id, a bare CACM number) -> work id."""
    found: dict[str, str] = {}
    for work in works:
        for key in (work.source_id, work.id):
            found[key] = work.id
        if work.source in VENUES:
            found[str(int(work.source_id))] = work.id
    return found


def resolve_doc(ids: dict[str, str], doc: str) -> str | None:
    """The work id a qrels line means; numeric ids also match without leading zeros ("0046" is 46)."""
    found = ids.get(doc)
    if found is None and doc.isdigit():
        found = ids.get(str(int(doc)))
    return found


def subset(collection: Collection, size: int, seed: int = 7) -> Collection:
    """About `size` documents: the judged-relevant ones of whole queries first (so those queries keep
    all their judgements), then random others; queries without judged documents in it are dropped."""
    works, _ = collection.load_works()
    ids = doc_id_map(works)
    by_id = {w.id: w for w in works}
    chosen: list[str] = []
    kept_qrels: dict[str, dict[str, int]] = {}
    for query in collection.queries:
        judged = {resolve_doc(ids, d): g for d, g in collection.qrels.get(query.id, {}).items() if g > 0}
        judged.pop(None, None)
        if judged and len(set(chosen) | set(judged)) <= size // 2:
            chosen.extend(d for d in judged if d not in chosen)
            kept_qrels[query.id] = judged
    rest = sorted(set(by_id) - set(chosen))
    random.Random(seed).shuffle(rest)
    chosen += rest[: max(0, size - len(chosen))]
    return replace(
        collection,
        name=f"{collection.name}[{len(chosen)} docs]",
        works=[by_id[d] for d in sorted(chosen)],
        queries=[q for q in collection.queries if q.id in kept_qrels],
        qrels=kept_qrels,
    )


# -- results -------------------------------------------------------------------------------------


@dataclass
class RunScores:
    label: str
    mode: str
    fusion: str
    queries: int
    scores: dict[str, float]
    """Metric name -> mean over queries."""


@dataclass
class QueryScores:
    id: str
    text: str
    relevant: int
    scores: dict[str, dict[str, float]]
    """Run label -> metric -> value."""
    top: dict[str, list[str]] = field(default_factory=dict)
    """Run label -> the first ten work ids."""


@dataclass
class RelevanceResult:
    collection: str
    engine: str
    model: str
    documents: int
    queries: int
    skipped_queries: list[str]
    unknown_judged_docs: int
    rejected_records: list[str]
    runs: list[RunScores]
    per_query: list[QueryScores]
    seconds: dict[str, float]
    fusions: dict[str, dict[str, float]] = field(default_factory=dict)
    """Fusion candidate -> metric -> mean over queries, on this engine's own lists."""

    def run(self, label: str) -> RunScores:
        return next(r for r in self.runs if r.label == label)

    @property
    def best_single(self) -> RunScores:
        return max((r for r in self.runs if r.mode in ("keyword", "semantic")), key=lambda r: r.scores["ndcg@10"])

    @property
    def default_hybrid(self) -> RunScores:
        return next(r for r in self.runs if r.mode == "hybrid" and r.fusion == DEFAULT_FUSION)

    def hybrid_at_least_best_single(self) -> bool:
        return self.default_hybrid.scores["ndcg@10"] >= self.best_single.scores["ndcg@10"]

    def below_reference(self) -> list[str]:
        """The runs (keyword, semantic, default hybrid) whose nDCG@10 is below their reference's."""
        pairs = zip(("keyword", "semantic", self.default_hybrid.label), REFERENCE_RUNS)
        return [run for run, ref in pairs if self.run(run).scores["ndcg@10"] < self.run(ref).scores["ndcg@10"]]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["hybrid_at_least_best_single"] = self.hybrid_at_least_best_single()
        data["below_reference"] = self.below_reference()
        return data

    def table(self, per_query: bool = False) -> str:
        head = (
            f"{self.collection}: {self.documents} documents, {self.queries} judged queries "
            f"({len(self.skipped_queries)} without judgements skipped), engine {self.engine}, model {self.model}"
        )
        lines = [head, "", f"{'run':<17}" + "".join(f"{m:>11}" for m in METRICS)]
        for run in self.runs:
            lines.append(f"{run.label:<17}" + "".join(f"{run.scores[m]:>11.4f}" for m in METRICS))
        single, hybrid = self.best_single, self.default_hybrid
        verdict = "yes" if self.hybrid_at_least_best_single() else "NO"
        lines += [
            "",
            f"default hybrid ({hybrid.label}) nDCG@10 {hybrid.scores['ndcg@10']:.4f} vs best single mode "
            f"({single.label}) {single.scores['ndcg@10']:.4f}: hybrid at least as good: {verdict}",
            f"below their reference: {', '.join(self.below_reference()) or 'none'}",
        ]
        if self.unknown_judged_docs:
            lines.append(f"{self.unknown_judged_docs} judged documents are not in the collection (ignored)")
        if self.rejected_records:
            lines.append(f"{len(self.rejected_records)} records rejected: {self.rejected_records[:3]}")
        if per_query:
            labels = [r.label for r in self.runs]
            lines += ["", "per query nDCG@10:", f"{'query':<7}{'rel':>5}" + "".join(f"{lab:>17}" for lab in labels) + "  text"]
            for q in self.per_query:
                lines.append(
                    f"{q.id:<7}{q.relevant:>5}"
                    + "".join(f"{q.scores[lab]['ndcg@10']:>17.4f}" for lab in labels)
                    + f"  {q.text[:60]}"
                )
        if self.fusions:
            lines += ["", f"{'fusion on the engine lists':<34}" + "".join(f"{m:>11}" for m in METRICS[:3])]
            lines += [f"{name:<34}" + "".join(f"{v[m]:>11.4f}" for m in METRICS[:3]) for name, v in self.fusions.items()]
        lines.append(f"\n({', '.join(f'{k} {v:.1f}s' for k, v in self.seconds.items())})")
        return "\n".join(lines)


# -- evaluation ----------------------------------------------------------------------------------


def score_ranking(ranking: Sequence[str], judged: dict[str, int]) -> dict[str, float]:
    return {
        "ndcg@10": M.ndcg_at_k(ranking, judged, 10),
        "map": M.average_precision(ranking, judged, DEPTH),
        "recall@100": M.recall_at_k(ranking, judged, 100),
        "mrr": M.reciprocal_rank(ranking, judged, DEPTH),
        "p@10": M.precision_at_k(ranking, judged, 10),
    }


class ReferenceKeyword:
    """Plain FTS5 BM25 (k1=1.2, b=0.75) over title (weighted `REFERENCE_TITLE_WEIGHT`) and abstract, porter stems."""

    def __init__(self, works: Sequence[Work]):
        self.db = sqlite3.connect(":memory:")
        self.db.execute("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, abstract, tokenize='porter unicode61')")
        self.db.executemany("INSERT INTO docs VALUES (?, ?, ?)", [(w.id, w.title, w.abstract or "") for w in works])

    def search(self, text: str, limit: int = DEPTH) -> list[tuple[str, float]]:
        terms = T.query_terms(text)
        if not terms:
            return []
        sql = f"SELECT id, bm25(docs, 0, {REFERENCE_TITLE_WEIGHT}, 1.0) AS r FROM docs WHERE docs MATCH ? ORDER BY r, id LIMIT ?"
        return [(doc, -r) for doc, r in self.db.execute(sql, (T.fts5_query(terms), limit))]

    def close(self) -> None:
        self.db.close()


def reference_embedder(settings: Settings) -> Embedder:
    """The configured model read at its full window, one vector per text (no passages)."""
    return Embedder(settings.embedding_model, settings.embedding_batch_size, REFERENCE_WINDOW, passages=False)


def _reference_vectors(
    works: Sequence[Work], embedder: Embedder, reference: Embedder, cache: Path, progress: Callable | None
) -> dict[str, np.ndarray]:
    """The reference's vectors: a text the engines' embedder read whole in one window has the same
    vector under the reference (same model and backend, nothing cut), so only longer texts are
    embedded again; with another backend (ONNX, int8) every text is."""
    if reference.max_tokens < embedder.max_tokens:
        raise ValueError("the reference reads at least the engines' window")
    if embedder.backend != reference.backend:
        return cached_vectors(works, reference, cache, progress)
    vectors = cached_vectors(works, embedder, cache, progress)
    longer = [w for w in works if len(embedder.split(w.embedding_text())) > 1 or not embedder.passages]
    return {**vectors, **(cached_vectors(longer, reference, cache, progress) if longer else {})}


def _cosine_top(matrix: np.ndarray, ids: list[str], query: np.ndarray, limit: int) -> list[tuple[str, float]]:
    scores = matrix @ query
    order = np.lexsort((np.arange(len(ids)), -scores))[:limit]
    return [(ids[i], float(scores[i])) for i in order]


def _mean_scores(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    return {m: M.mean(r[m] for r in rows) for m in METRICS}


def evaluate_relevance(
    collection: Collection,
    settings: Settings,
    embedder: Embedder | None = None,
    vector_cache: Path | None = None,
    scratch_dir: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> RelevanceResult:
    """Index the collection on the configured engine in a scratch place and score every run."""
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    works, rejected = collection.load_works()
    if not works:
        raise SourceError(f"{collection.name}: no documents could be read")
    ids = doc_id_map(works)
    judged_queries: list[tuple[Query, dict[str, int]]] = []
    skipped: list[str] = []
    unknown = 0
    for query in collection.queries:
        judged: dict[str, int] = {}
        for doc, grade in collection.qrels.get(query.id, {}).items():
            if grade <= 0:
                continue
            work = resolve_doc(ids, doc)
            if work is not None:
                judged[work] = grade
            else:
                unknown += 1
        if judged:
            judged_queries.append((query, judged))
        else:
            skipped.append(query.id)
    if not judged_queries:
        raise SourceError(f"{collection.name}: no query has a judged document in the collection")
    seconds["read"] = time.perf_counter() - clock

    clock = time.perf_counter()
    embedder = embedder or settings.embedder()
    vector_cache = Path(vector_cache or default_vector_cache(settings))
    reference = ReferenceKeyword(works)
    ref_embedder = reference_embedder(settings)
    ref_vectors = _reference_vectors(works, embedder, ref_embedder, vector_cache, progress)
    ref_ids = [w.id for w in works]
    ref_matrix = np.stack([ref_vectors[i] for i in ref_ids])
    ref_queries = ref_embedder.embed([q.text for q, _ in judged_queries])
    seconds["reference"] = time.perf_counter() - clock

    clock = time.perf_counter()
    with scratch_index(works, settings, embedder, vector_cache, scratch_dir, progress=progress) as built:
        seconds["index"] = time.perf_counter() - clock
        service = built.discovery
        clock = time.perf_counter()
        for query, _ in judged_queries:  # embed each query once, outside the per-run loop
            service.embed(query.text)
        seconds["embed queries"] = time.perf_counter() - clock
        clock = time.perf_counter()
        per_query: list[QueryScores] = []
        fusion_rows: dict[str, list[dict[str, float]]] = {name: [] for name in FUSION_CANDIDATES}
        for n, (query, judged) in enumerate(judged_queries, start=1):
            row = QueryScores(query.id, query.text, len(judged), {})
            rankings: dict[str, list[str]] = {}
            for label, mode, fusion in RUNS:
                try:
                    rankings[label] = [doc for doc, _ in service.work_ranking(query.text, mode, fusion)[:DEPTH]]
                except SearchError:
                    rankings[label] = []
            for label, mode, fusion in SHOWN_RUNS:
                try:
                    rankings[label] = [hit.work.id for hit in service.search_works(query.text, mode, fusion, per_page=DEPTH).hits]
                except SearchError:
                    rankings[label] = []
            ref_kw = reference.search(query.text)
            ref_vec = _cosine_top(ref_matrix, ref_ids, ref_queries[n - 1], DEPTH)
            rankings["reference keyword"] = [d for d, _ in ref_kw]
            rankings["reference semantic"] = [d for d, _ in ref_vec]
            rankings["reference hybrid"] = [d for d, _ in F.rrf([ref_kw, ref_vec], k=60)][:DEPTH]
            for label, ranking in rankings.items():
                row.scores[label] = score_ranking(ranking, judged)
                row.top[label] = ranking[:10]
            keyword, vector = built.engine.keyword_and_vector_works(
                query.text, service.embed(query.text), WorkFilters(), FUSION_DEPTH
            )
            for name, fuse in FUSION_CANDIDATES.items():
                fusion_rows[name].append(score_ranking([d for d, _ in fuse(keyword, vector)][:DEPTH], judged))
            per_query.append(row)
            if progress:
                progress("queries", n, len(judged_queries))
        seconds["search"] = time.perf_counter() - clock
        engine_name = built.settings.engine
        model = built.corpus.model
    reference.close()
    runs = [
        RunScores(label, mode, fusion, len(per_query), _mean_scores([q.scores[label] for q in per_query]))
        for label, mode, fusion in [*RUNS, *((label, "shown", fusion) for label, _, fusion in SHOWN_RUNS), *((label, "reference", "rrf") for label in REFERENCE_RUNS)]
    ]
    return RelevanceResult(
        collection=collection.name,
        engine=engine_name,
        model=model,
        documents=len(works),
        queries=len(per_query),
        skipped_queries=skipped,
        unknown_judged_docs=unknown,
        rejected_records=rejected,
        runs=runs,
        per_query=per_query,
        seconds={k: round(v, 2) for k, v in seconds.items()},
        fusions={name: _mean_scores(rows) for name, rows in fusion_rows.items()},
    )


# -- choosing a fusion across collections ---------------------------------------------------------


@dataclass
class FoldScore:
    held_out: str
    chosen: str
    """The fusion with the best mean nDCG@10 on the other collections."""
    held_out_ndcg: float
    best_single_ndcg: float
    default_ndcg: float
    """The default hybrid's nDCG@10 on the held-out collection: what switching to `chosen` would replace."""


def cross_validate(
    fusions: dict[str, dict[str, dict[str, float]]], best_single: dict[str, float], default: dict[str, float]
) -> list[FoldScore]:
    """Leave one collection out: choose on the others by mean nDCG@10, score on the held-out one.

    `fusions` is collection -> fusion -> metric -> value; `best_single` and `default` the better
    single mode's and the default hybrid's nDCG@10 per collection, printed beside the held-out
    score. Needs two collections at least.
    """
    if len(fusions) < 2:
        raise ValueError("cross-validation needs at least two collections")
    folds = []
    for held_out in fusions:
        train = [c for c in fusions if c != held_out]
        chosen = max(
            sorted(fusions[held_out]), key=lambda name: M.mean(fusions[c][name]["ndcg@10"] for c in train)
        )
        folds.append(
            FoldScore(held_out, chosen, fusions[held_out][chosen]["ndcg@10"], best_single[held_out], default[held_out])
        )
    return folds


def cross_validation_table(folds: Sequence[FoldScore]) -> str:
    """One row per held-out collection, and how often the chosen fusion beat the default there."""
    lines = ["", f"{'held out':<16}{'fusion chosen on the others':<34}{'nDCG@10':>9}{'default':>9}{'best single':>13}"]
    lines += [
        f"{f.held_out:<16}{f.chosen:<34}{f.held_out_ndcg:>9.4f}{f.default_ndcg:>9.4f}{f.best_single_ndcg:>13.4f}"
        for f in folds
    ]
    wins = sum(f.held_out_ndcg > f.default_ndcg for f in folds)
    lines.append(f"the chosen fusion beats the default ({DEFAULT_FUSION}) on {wins} of {len(folds)} held-out collections")
    return "\n".join(lines)


@dataclass
class RelevanceReport:
    """Every collection on every engine, and per engine the fusion chosen by leave-one-collection-out."""

    results: list[RelevanceResult]
    folds: dict[str, list[FoldScore]]
    """Engine -> one fold per held-out collection (empty with a single collection)."""

    def table(self, per_query: bool = False) -> str:
        parts = [r.table(per_query) for r in self.results]
        for engine, folds in self.folds.items():
            parts.append(f"engine {engine}: fusion chosen on the other collections, scored on the held-out one"
                         + cross_validation_table(folds))
        return "\n\n".join(parts)

    def to_dict(self, per_query: bool = False) -> dict:
        results = [r.to_dict() for r in self.results]
        if not per_query:
            for r in results:
                r.pop("per_query", None)
        return {"results": results, "cross_validation": {e: [asdict(f) for f in fs] for e, fs in self.folds.items()}}


def _scratch(root: Path | None, engine: str, collection: Collection) -> Path | None:
    """One kept scratch directory per engine and collection under `root` (None: temporary ones)."""
    return Path(root) / f"{engine}-{collection.name}" if root else None


def evaluate_collections(
    targets: Sequence[str | Path],
    settings: Settings,
    engines: Sequence[str] = (),
    size: int | None = None,
    **options,
) -> RelevanceReport:
    """`evaluate_relevance` for each target (default: CACM and CISI) on each engine (default: the configured one)."""
    collections = [load_collection(t) for t in (targets or DEVELOPMENT_SETS)]
    if size:
        collections = [subset(c, size) for c in collections]
    results, folds = [], {}
    for engine in engines or [settings.engine]:
        on_engine = settings.model_copy(update={"engine": engine})
        found = [
            evaluate_relevance(c, on_engine, **{**options, "scratch_dir": _scratch(options.get("scratch_dir"), engine, c)})
            for c in collections
        ]
        results += found
        if len(found) > 1:
            folds[engine] = cross_validate(
                {r.collection: r.fusions for r in found},
                {r.collection: r.best_single.scores["ndcg@10"] for r in found},
                {r.collection: r.default_hybrid.scores["ndcg@10"] for r in found},
            )
    return RelevanceReport(results, folds)
