"""The real pipeline at scale: ingest N works, index on each engine, add 1%, reindex, time the queries.

    .venv/bin/python -m bench.pipeline --works 100000 --source CATALOG [--engines embedded,opensearch]

The N works are real records recombined: the source catalog's works (one with a cached vector each),
then copies whose title and abstract join the first half of one real record to the second half of
another, and whose authors keep their given names with the family name of another author (so the
copies add new people, and identity resolution meets real name collisions); source identifiers
(ORCID, OpenAlex, DOI) are dropped from copies. No benchmark spends hours embedding: each copy's
vector is its record's real vector plus Gaussian noise, seeded into the vector cache under the
copy's own text, so `discovery index` finds every vector cached (the embedding rate is measured on
real text by `bench.search`). The catalog is written through `Catalog.upsert_works`, the path
`discovery ingest` takes after parsing.

Each engine runs in its own process on its own copy of the catalog, so `peak_rss_mb` is that
engine's whole run (index, add 1%, reindex, queries). One JSON line per engine goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator

import numpy as np

from bench.search import SEED, _halves, measure, query_sets
from indexer.catalog import Catalog, content_hash, text_hash
from models.records import Work
from models.settings import Settings

NOISE = 0.02
BATCH = 5000
ADDED_SHARE = 0.01
QUERIES = 200
LATENCIES = {
    "people_by_name_p95_ms": "people by name",
    "works_hybrid_p95_ms": "works hybrid",
    "common_words_p95_ms": "keyword common words",
    "similar_p95_ms": "similar researchers",
}


def source_works(source: Path, cache_key: str) -> tuple[list[Work], np.ndarray]:
    """The source catalog's works that have a cached vector for `cache_key`, and those vectors."""
    with Catalog(source) as catalog:
        works = list(catalog.works())
        cached = catalog.cached_vectors(cache_key, {text_hash(w.embedding_text()) for w in works})
    kept = [w for w in works if text_hash(w.embedding_text()) in cached]
    if not kept:
        raise SystemExit(f"{source} holds no vectors for {cache_key}: run `discovery index` on it first")
    return kept, np.stack([cached[text_hash(w.embedding_text())] for w in kept]).astype(np.float32)


def recombined(works: list[Work], vectors: np.ndarray, start: int, count: int) -> Iterator[tuple[Work, np.ndarray]]:
    """Works `start .. start+count-1` of the endless recombined sequence (deterministic)."""
    n = len(works)
    families = [a.name.split()[-1] for w in works for a in w.authorships if a.name.split()]
    for k in range(start, start + count):
        copy, i = divmod(k, n)
        work, vector = works[i], vectors[i]
        if copy == 0:
            yield work, vector
            continue
        pick = random.Random(SEED * 1_000_003 + k)
        other = works[pick.randrange(n)]
        t1, _ = _halves(work.title)
        _, t2 = _halves(other.title)
        a1, _ = _halves(work.abstract)
        _, a2 = _halves(other.abstract)
        authors = [
            replace(a, name=" ".join([*a.name.split()[:-1], pick.choice(families)]) if a.name.split() else a.name,
                    orcid=None, openalex_id=None, openreview_id=None, dblp_id=None)
            for a in work.authorships
        ]
        copy_work = replace(
            work,
            id=f"{work.id}~{copy}",
            source_id=f"{work.source_id}~{copy}",
            title=" ".join(p for p in (t1, t2) if p) or work.title,
            abstract=" ".join(p for p in (a1, a2) if p) or None,
            doi=None,
            authorships=authors,
        )
        noisy = vector + np.random.default_rng(k).normal(0.0, NOISE, vector.shape[0]).astype(np.float32)
        yield copy_work, noisy / np.linalg.norm(noisy)


def add_works(catalog: Catalog, cache_key: str, items: Iterator[tuple[Work, np.ndarray]]) -> int:
    """Write works and seed their vectors, in batches (one transaction each)."""
    added = 0
    batch: list[tuple[Work, np.ndarray]] = []

    def flush() -> None:
        catalog.upsert_works([(w, content_hash(w), "bench.pipeline", 0) for w, _ in batch])
        catalog.store_vectors(cache_key, {text_hash(w.embedding_text()): v for w, v in batch})
        batch.clear()

    for item in items:
        batch.append(item)
        added += 1
        if len(batch) >= BATCH:
            flush()
    flush()
    return added


def peak_rss_mb(reset: bool = False) -> float:
    """This process's peak resident memory since it started or since the last `reset` (Linux's
    VmHWM, which writing 5 to /proc/self/clear_refs resets), so each phase gets its own peak."""
    with open("/proc/self/status", encoding="ascii") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    if reset:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    return round(peak, 1)


class StagePeaks:
    """A `Progress` callback for `index` that keeps the peak resident memory of each stage it reports
    ("read", "embed", "identity", "topics", "index works", ...): the peak is taken and reset when the
    next stage starts. "topics" includes the aggregates; "hashes" runs from there to the engine's first
    stage (documents made and hashed against the live version's). Each finished stage is logged to
    stderr with its seconds and peak, so a run stopped part-way (a 1M run can outlast a session) still
    says how far it got and what each stage cost."""

    def __init__(self) -> None:
        self.peaks: dict[str, float] = {}
        self.stage: str | None = None
        self.started = time.perf_counter()

    def __call__(self, stage: str, done: int, total: int) -> None:
        name = "hashes" if stage == "topics" and done == total == 1 else stage  # topics and aggregates are done
        if name != self.stage:
            self.close()
            self.stage = name

    def close(self) -> dict[str, float]:
        if self.stage is not None:
            peak = peak_rss_mb(reset=True)
            self.peaks[self.stage] = max(self.peaks.get(self.stage, 0.0), peak)
            now = time.perf_counter()
            print(f"{time.strftime('%H:%M:%S')} stage {self.stage}: {now - self.started:.1f} s, peak {peak:,.0f} MB, "
                  f"load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
            self.started = now
        self.stage = None
        return self.peaks


def run_engine(args: argparse.Namespace) -> dict:
    """One engine's run, in this process: full index, add 1%, incremental reindex, queries."""
    from indexer.pipeline import index
    from search.engines import open_engine

    settings = Settings(
        data_dir=args.data_dir,
        engine=args.engine,
        opensearch_url=args.opensearch_url,
        opensearch_prefix=f"bench-pipeline-{uuid.uuid4().hex[:8]}",
        opensearch_timeout=60,
    )
    embedder = settings.embedder()
    engine = open_engine(settings)
    peaks = {"start": peak_rss_mb(reset=True)}
    try:
        with Catalog(settings.catalog_path) as catalog:
            clock = time.perf_counter()
            stages = StagePeaks()
            full = index(catalog, engine, embedder, progress=stages)
            full_s = time.perf_counter() - clock
            peaks["full_index"] = max(stages.close().values())
            works, vectors = source_works(args.source, embedder.cache_key)
            added = add_works(catalog, embedder.cache_key,
                              recombined(works, vectors, args.works, max(1, int(args.works * ADDED_SHARE))))
            del works, vectors
            peaks["add_works"] = peak_rss_mb(reset=True)
            clock = time.perf_counter()
            incremental_stages = StagePeaks()
            incremental = index(catalog, engine, embedder, progress=incremental_stages)
            incremental_s = time.perf_counter() - clock
            peaks["incremental_index"] = max(incremental_stages.close().values())
            rng = random.Random(SEED)
            ids = [row[0] for row in catalog.db.execute("SELECT id FROM works ORDER BY id")]
            sample = [w for w in map(catalog.work, rng.sample(ids, min(full.works, args.queries * 3))) if w is not None]
            researcher_ids = sorted(set(catalog.mention_researchers().values()))
            picked = rng.sample(researcher_ids, min(len(researcher_ids), args.queries * 2))
            vectors_of = engine.researcher_vectors(picked)  # documents come back without their vectors
            researchers = [replace(r, vector=vectors_of.get(r.id)) for r in engine.get_researchers(picked)]
        base = SimpleNamespace(works=lambda: sample, researchers=lambda: researchers)
        latencies = measure(engine, embedder, query_sets(base, args.queries))
        peaks["queries"] = peak_rss_mb()
    finally:
        if args.engine == "opensearch":
            engine.drop()
        engine.close()
    return {
        "engine": args.engine,
        "works": full.works,
        "peak_rss_mb": max(peaks.values()),
        "full_index_s": round(full_s, 1),
        "incremental_index_s": round(incremental_s, 1),
        **{key: round(latencies[label]["p95"], 1) for key, label in LATENCIES.items()},
        "added_works": added,
        "incremental": incremental.incremental,  # False: the reindex fell back to a full build, and says why
        "incremental_why_full": incremental.why_full,
        "incremental_written": incremental.written,
        "incremental_embedded": incremental.embedded,
        "full_seconds": {k: round(v, 1) for k, v in full.seconds.items()},
        "incremental_seconds": {k: round(v, 1) for k, v in incremental.seconds.items()},
        "query_errors": sum(v["errors"] for v in latencies.values()),
        "queries": args.queries,
        "peak_rss_mb_by_phase": peaks,
        "full_peak_rss_mb_by_stage": stages.peaks,
        "incremental_peak_rss_mb_by_stage": incremental_stages.peaks,
    }


def prepare(args: argparse.Namespace) -> Path:
    """The N-work catalog with its vectors seeded, built once and copied for each engine."""
    prepared = args.root / f"works-{args.works}" / "catalog.sqlite"
    if prepared.exists():
        return prepared
    prepared.parent.mkdir(parents=True, exist_ok=True)
    partial = prepared.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    key = Settings().embedder().cache_key
    works, vectors = source_works(args.source, key)
    with Catalog(partial) as catalog:
        add_works(catalog, key, recombined(works, vectors, 0, args.works))
    partial.replace(prepared)
    return prepared


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--works", type=int, required=True, help="works to ingest (N)")
    parser.add_argument("--source", type=Path, required=True, help="an indexed catalog.sqlite: real records + vectors")
    parser.add_argument("--root", type=Path, default=Path(os.environ.get("DISCOVERY_BENCH_ROOT", "/var/tmp/discovery-bench")) / "pipeline")
    parser.add_argument("--engines", default="embedded,opensearch")
    parser.add_argument("--queries", type=int, default=QUERIES, help="queries per kind (p95 over them)")
    parser.add_argument("--opensearch-url", default=os.environ.get("DISCOVERY_OPENSEARCH_URL", "http://127.0.0.1:9250"))
    parser.add_argument("--engine", help=argparse.SUPPRESS)  # one engine's run, in a child process
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.engine:
        print(json.dumps(run_engine(args)), flush=True)
        return 0
    from bench.machine import describe

    print(f"machine: {describe()}; load average {os.getloadavg()[0]:.1f}", file=sys.stderr)
    prepared = prepare(args)
    for engine in args.engines.split(","):
        data_dir = args.root / f"works-{args.works}-{engine}"
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(parents=True)
        shutil.copy(prepared, data_dir / "catalog.sqlite")
        child = [sys.executable, "-m", "bench.pipeline", "--works", str(args.works), "--source", str(args.source),
                 "--engine", engine, "--data-dir", str(data_dir), "--opensearch-url", args.opensearch_url,
                 "--queries", str(args.queries)]
        subprocess.run(child, check=True)
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
