"""Relevance on a judged collection: index it, run every search mode, score the rankings.

    result = evaluate_relevance(load_collection("cacm"), Settings())
    print(result.table())

Every query runs through `Discovery.search_works` (the code path pages and the CLI use) in each
of four modes: keyword (BM25), semantic (cosine), hybrid with reciprocal rank fusion and hybrid with
the min-max weighted sum. The first page of 100 results (the interface's largest page) is scored:
nDCG@10, MAP (average precision over those 100 ranks), recall@100 and MRR. Queries without any
judged-relevant document in the collection are skipped, as trec_eval does.

A collection is `cacm` (the SMART files in ../shared/data/cacm), a directory holding documents
(`*.all` SMART files or OpenAlex/arXiv JSON lines), one query file (`query.text`, `queries.tsv`,
`topics*`) and one qrels file (`qrels*`), or a JSON manifest
`{"name": ..., "documents": [...], "queries": ..., "qrels": ..., "format": ...}` with paths
relative to the manifest.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

from evaluation import metrics as M
from evaluation.scratch import SHARED_DATA, scratch_index
from indexer.sources import SourceError, read_records
from indexer.sources.cacm import Query, read_qrels, read_queries
from models.embedding import Embedder
from models.records import Work
from models.settings import Settings
from search.interface import MAX_PAGE_SIZE, SearchError

RUNS: tuple[tuple[str, str, str], ...] = (
    ("keyword", "keyword", "rrf"),
    ("semantic", "semantic", "rrf"),
    ("hybrid+rrf", "hybrid", "rrf"),
    ("hybrid+weighted", "hybrid", "weighted"),
)
"""(label, mode, fusion) of every run; fusion only matters for hybrid."""
DEPTH = MAX_PAGE_SIZE
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
    """`cacm`, a collection directory or a JSON manifest (see the module docstring)."""
    if str(target) == "cacm":
        target = SHARED_DATA / "cacm"
        if not target.is_dir():
            raise SourceError(f"the CACM collection is not at {target}; pass its directory instead")
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
    queries = _one(path, ("query.text", "queries.tsv", "queries.txt", "topics*", "*.queries"), "queries")
    qrels = _one(path, ("qrels.text", "qrels*", "*.qrels"), "qrels")
    documents = sorted(p for p in path.glob("*.all") if p.is_file()) or sorted(
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
        if work.source == "cacm":
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

    def run(self, label: str) -> RunScores:
        return next(r for r in self.runs if r.label == label)

    @property
    def best_single(self) -> RunScores:
        return max((r for r in self.runs if r.mode != "hybrid"), key=lambda r: r.scores["ndcg@10"])

    @property
    def best_hybrid(self) -> RunScores:
        return max((r for r in self.runs if r.mode == "hybrid"), key=lambda r: r.scores["ndcg@10"])

    def hybrid_at_least_best_single(self) -> bool:
        return self.best_hybrid.scores["ndcg@10"] >= self.best_single.scores["ndcg@10"]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["hybrid_at_least_best_single"] = self.hybrid_at_least_best_single()
        return data

    def table(self, per_query: bool = False) -> str:
        head = (
            f"{self.collection}: {self.documents} documents, {self.queries} judged queries "
            f"({len(self.skipped_queries)} without judgements skipped), engine {self.engine}, model {self.model}"
        )
        lines = [head, "", f"{'run':<17}" + "".join(f"{m:>11}" for m in METRICS)]
        for run in self.runs:
            lines.append(f"{run.label:<17}" + "".join(f"{run.scores[m]:>11.4f}" for m in METRICS))
        single, hybrid = self.best_single, self.best_hybrid
        verdict = "yes" if self.hybrid_at_least_best_single() else "NO"
        lines += [
            "",
            f"best hybrid ({hybrid.label}) nDCG@10 {hybrid.scores['ndcg@10']:.4f} vs best single mode "
            f"({single.label}) {single.scores['ndcg@10']:.4f}: hybrid at least as good: {verdict}",
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
    with scratch_index(works, settings, embedder, vector_cache, scratch_dir, progress=progress) as built:
        seconds["index"] = time.perf_counter() - clock
        service = built.discovery
        clock = time.perf_counter()
        for query, _ in judged_queries:  # embed each query once, outside the per-run loop
            service.embed(query.text)
        seconds["embed queries"] = time.perf_counter() - clock
        clock = time.perf_counter()
        per_query: list[QueryScores] = []
        for n, (query, judged) in enumerate(judged_queries, start=1):
            row = QueryScores(query.id, query.text, len(judged), {})
            for label, mode, fusion in RUNS:
                try:
                    results = service.search_works(query.text, mode=mode, fusion=fusion, per_page=DEPTH)
                    ranking = [hit.work.id for hit in results.hits]
                except SearchError:
                    ranking = []
                row.scores[label] = score_ranking(ranking, judged)
                row.top[label] = ranking[:10]
            per_query.append(row)
            if progress:
                progress("queries", n, len(judged_queries))
        seconds["search"] = time.perf_counter() - clock
        engine_name = built.settings.engine
        model = built.corpus.model
    runs = [
        RunScores(label, mode, fusion, len(per_query), {m: M.mean(q.scores[label][m] for q in per_query) for m in METRICS})
        for label, mode, fusion in RUNS
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
    )
