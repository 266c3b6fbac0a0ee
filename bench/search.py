"""Search latency benchmark: every query type, on each engine, at 28k real works and synthetic 100k / 1M.

    .venv/bin/python -m bench.search                        # 28k + 100k + 1M embedded, OpenSearch at 28k if reachable
    .venv/bin/python -m bench.search --scales 28k,100k --engines embedded --json out.json

What is measured, per (scale, engine), each over the same >= 200 distinct queries, after warm-up:
* works hybrid (RRF), keyword, semantic: `Discovery.search_works` as a page asks it (10 hits, facets,
  highlights), with the query vector already embedded: query embedding is reported on its own row;
* the engine primitives behind them: BM25 top-100, kNN top-100, facet counts;
* keyword search on the corpus's most common title words (the worst case for FTS5 posting lists);
* people by name (`search_people`, real display names) and similar researchers (`similar_researchers`).
Latencies are wall-clock milliseconds, p50/p95/p99. Also: build throughput of the engine
(works/s), bulk embedding throughput, index size on disk, peak RSS of the query process (and of the
OpenSearch node's JVM), machine and engine versions.

Corpora. 28k: ml-venues + the seed works, ingested and indexed through the real pipeline (vectors
from the real model, through the vector cache). 100k and 1M: the 28k corpus plus synthetic copies:
copy c of work w keeps w's shape (year, venue, authors copied as researcher copies, topics) with
*recombined real text* (the first half of w's title and abstract joined to the second half of
another work's) and w's vector plus gaussian noise (sigma 0.02 per dimension, then renormalised:
cosine ~0.93 to the original). Researcher copies get recombined real names (one researcher's given
names, another's family name). No text is embedded for them: the 1M corpus costs no model time.

Each scale and engine runs in its own process (peak RSS is per process), and the embedded indexes
are kept under --root between runs (rebuilt only with --rebuild). CPU on the benchmark machine may
be shared; the run records the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import resource
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from bench.machine import describe, machine
from evaluation.metrics import percentile

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CORPUS_FILES = [SHARED / "ml-venues.openalex.jsonl.gz", SHARED / "seed-researcher.openalex.jsonl"]
DEFAULT_ROOT = Path("/var/tmp/discovery-bench")
SCALES = {"28k": None, "100k": 100_000, "1m": 1_000_000}
NOISE = 0.02
SEED = 20240601
WARMUP = 10
QUERY_TYPES = (
    "embed query", "works hybrid", "works keyword", "works semantic", "bm25 top-100", "knn top-100",
    "facets", "keyword common words", "people by name", "similar researchers",
)


# -- corpora -------------------------------------------------------------------------------------


def real_settings(root: Path, engine: str = "embedded", url: str | None = None):
    from models.settings import Settings

    update = {"opensearch_url": url} if url else {}
    return Settings(data_dir=root / "real-28k", engine=engine, opensearch_prefix="discovery-bench", **update)


def real_corpus(root: Path, progress=None):
    """The 28k corpus through the real pipeline (ingest, cached vectors, identity, topics, aggregates).

    The built corpus is pickled beside the catalog (vectors as float32 arrays) and reused while the
    catalog is unchanged, so each benchmark process does not resolve identities again."""
    import pickle

    from indexer.catalog import Catalog, text_hash
    from indexer.ingest import ingest
    from indexer.pipeline import build_corpus
    from search.interface import Corpus

    settings = real_settings(root)
    embedder = settings.embedder()
    timings: dict[str, float] = {}
    saved = settings.data_dir / "corpus.pkl"
    with Catalog(settings.catalog_path) as catalog:
        clock = time.perf_counter()
        report = ingest(catalog, CORPUS_FILES)
        timings["ingest"] = time.perf_counter() - clock
        state = list(catalog.db.execute("SELECT COUNT(*), MAX(updated_at) FROM works").fetchone())
        if saved.exists():
            with open(saved, "rb") as handle:
                data = pickle.load(handle)
            if data["state"] == state and data["model"] == embedder.model_name:
                corpus = Corpus(
                    works=lambda: iter(data["works"]), researchers=lambda: iter(data["researchers"]),
                    topics=lambda: iter(data["topics"]), counts=data["counts"], model=data["model"],
                    dimension=data["dimension"], meta=data["meta"],
                )
                return corpus, {**data["info"], "ingested": report.read, "reused_corpus": True}
        hashes = {text_hash(w.embedding_text()) for w in catalog.works()}
        with Catalog(root / "vector-cache.sqlite") as cache:
            catalog.store_vectors(embedder.cache_key, cache.cached_vectors(embedder.cache_key, hashes))
            clock = time.perf_counter()
            corpus, index_report = build_corpus(catalog, embedder, progress)
            timings["corpus"] = time.perf_counter() - clock
            if index_report.embedded:
                cache.store_vectors(embedder.cache_key, catalog.cached_vectors(embedder.cache_key, hashes))
    timings.update({f"corpus {k}": v for k, v in index_report.seconds.items()})
    info = {"ingested": report.read, "embedded": index_report.embedded, "seconds": timings}

    def arrays(docs):
        return [replace(d, vector=None if d.vector is None else np.asarray(d.vector, dtype=np.float32)) for d in docs]

    data = {"state": state, "model": corpus.model, "dimension": corpus.dimension, "counts": corpus.counts,
            "meta": corpus.meta, "info": info, "works": arrays(corpus.works()),
            "researchers": arrays(corpus.researchers()), "topics": arrays(corpus.topics())}
    with open(saved.with_suffix(".tmp"), "wb") as handle:
        pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(saved.with_suffix(".tmp"), saved)
    corpus = replace(corpus, works=lambda: iter(data["works"]), researchers=lambda: iter(data["researchers"]),
                     topics=lambda: iter(data["topics"]))
    return corpus, info


def _halves(text: str | None) -> tuple[str, str]:
    if not text:
        return "", ""
    sentences = re.split(r"(?<=[.!?])\s+", text)
    if len(sentences) >= 2:
        cut = len(sentences) // 2
        return " ".join(sentences[:cut]), " ".join(sentences[cut:])
    words = text.split()
    cut = len(words) // 2
    return " ".join(words[:cut]), " ".join(words[cut:])


def _noisy(vector, rng: np.random.Generator) -> np.ndarray | None:
    if vector is None:
        return None
    v = np.asarray(vector, dtype=np.float32)
    v = v + rng.normal(0.0, NOISE, v.shape[0]).astype(np.float32)
    return v / np.linalg.norm(v)


def synthetic_corpus(base, target: int):
    """The base corpus plus perturbed, recombined copies up to `target` works (see the module docstring)."""
    from models.records import AuthorRef, Collaborator
    from search.interface import Corpus

    works = list(base.works())
    researchers = list(base.researchers())
    n = len(works)
    copies = math.ceil(target / n)
    remainder = target - (copies - 1) * n  # works of the last copy
    given = [r.name.split()[:-1] or r.name.split() for r in researchers]
    family = [r.name.split()[-1] for r in researchers]
    position = {w.id: i for i, w in enumerate(works)}

    def in_copy(c: int, work_index: int) -> bool:
        return c < copies - 1 or work_index < remainder

    def rid(r: str, c: int) -> str:
        return r if c == 0 else f"{r}~{c}"

    def name(index: int, c: int) -> str:
        if c == 0:
            return researchers[index].name
        other = (index * 7919 + c * 104729) % len(researchers)
        return " ".join([*given[index], family[other]])

    r_index = {r.id: i for i, r in enumerate(researchers)}

    def work_docs() -> Iterator:
        for c in range(copies):
            rng = np.random.default_rng(SEED + c)
            pick = random.Random(SEED + c)
            for i, w in enumerate(works):
                if not in_copy(c, i):
                    return
                if c == 0:
                    yield w
                    continue
                other = works[pick.randrange(n)]
                t1, _ = _halves(w.title)
                _, t2 = _halves(other.title)
                a1, _ = _halves(w.abstract)
                _, a2 = _halves(other.abstract)
                yield replace(
                    w,
                    id=f"{w.id}~{c}",
                    title=" ".join(p for p in (t1, t2) if p) or w.title,
                    abstract=" ".join(p for p in (a1, a2) if p) or None,
                    doi=None,
                    authors=[
                        AuthorRef(rid(a.researcher_id, c), name(r_index[a.researcher_id], c) if a.researcher_id in r_index else a.name,
                                  a.position, a.method, a.confidence)
                        for a in w.authors
                    ],
                    vector=_noisy(w.vector, rng),
                )

    def researcher_docs() -> Iterator:
        for c in range(copies):
            rng = np.random.default_rng(SEED + 7919 * (c + 1))
            for i, r in enumerate(researchers):
                if c == 0:
                    yield r
                    continue
                kept = [f"{w}~{c}" for w in r.work_ids if w in position and in_copy(c, position[w])]
                if not kept:
                    continue
                new_name = name(i, c)
                yield replace(
                    r,
                    id=rid(r.id, c),
                    name=new_name,
                    name_variants=[new_name],
                    identifiers={},
                    work_ids=kept,
                    close_collaborators=[
                        Collaborator(rid(x.id, c), name(r_index[x.id], c) if x.id in r_index else x.name, x.joint_works)
                        for x in r.close_collaborators
                    ],
                    vector=_noisy(r.vector, rng),
                )

    counts = {
        "works": target,
        "researchers": sum(1 for _ in researcher_docs()) if target <= 200_000 else len(researchers) * copies,
        "topics": base.counts.get("topics", 0),
    }
    return Corpus(
        works=work_docs,
        researchers=researcher_docs,
        topics=base.topics,
        counts=counts,
        model=base.model,
        dimension=base.dimension,
        meta={**base.meta, "synthetic": {"base_works": n, "target": target, "noise": NOISE, "seed": SEED}},
    )


# -- query sets ----------------------------------------------------------------------------------


def query_sets(base, count: int = 250) -> dict[str, list[str]]:
    """Distinct work queries (title openings of 2-8 words), common-word queries, names, researcher ids."""
    from search import text as T

    rng = random.Random(SEED)
    works = sorted(base.works(), key=lambda w: w.id)
    titles = [w.title for w in works if w.title and len(w.title.split()) >= 3]
    queries: list[str] = []
    seen: set[str] = set()
    for title in rng.sample(titles, min(len(titles), count * 3)):
        words = re.sub(r"[\\${}^_]", " ", title).split()
        text = " ".join(words[: rng.randint(2, 8)])
        key = text.lower()
        if key not in seen and T.query_terms(text):
            seen.add(key)
            queries.append(text)
        if len(queries) == count:
            break
    df = Counter(t for title in titles for t in set(T.query_terms(title)))
    common = [t for t, _ in df.most_common(40) if len(t) > 2]
    common_queries = list(dict.fromkeys(
        [*common[:20], *(f"{a} {b}" for a, b in zip(common[0:20:2], common[1:20:2])),
         *(f"{a} {b} {c}" for a, b, c in zip(common[0:30:3], common[1:30:3], common[2:30:3]))]
    ))
    researchers = sorted(base.researchers(), key=lambda r: r.id)
    named = [r for r in researchers if len(r.name.split()) >= 2 and r.vector is not None]
    picked = rng.sample(named, min(len(named), count))
    return {
        "works": queries,
        "common": common_queries,
        "names": list(dict.fromkeys(r.name for r in picked)),
        "researchers": [r.id for r in picked],
    }


# -- measuring -----------------------------------------------------------------------------------


def timed(fn: Callable[[str], object], items: list[str], warmup: int = WARMUP) -> dict[str, float]:
    for item in items[:warmup]:
        fn(item)
    times = []
    errors = 0
    for item in items:
        clock = time.perf_counter()
        try:
            fn(item)
        except Exception:  # noqa: BLE001 - a failing query is counted, the benchmark goes on
            errors += 1
        times.append((time.perf_counter() - clock) * 1000)
    return {
        "n": len(items), "errors": errors, "p50": percentile(times, 50), "p95": percentile(times, 95),
        "p99": percentile(times, 99), "mean": sum(times) / len(times) if times else float("nan"),
        "max": max(times) if times else float("nan"),
    }


def rss_mb() -> dict[str, float]:
    status = Path("/proc/self/status").read_text()
    found = {k: int(v.split()[0]) / 1024 for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(.+)$", status, re.M)}
    found["ru_maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {k: round(v, 1) for k, v in found.items()}


def opensearch_node_rss() -> dict[str, float] | None:
    for pid_file in Path("/var/tmp/discovery-opensearch").glob("*/opensearch.pid"):
        try:
            pid = int(pid_file.read_text().strip())
            status = Path(f"/proc/{pid}/status").read_text()
        except (OSError, ValueError):
            continue
        return {k: round(int(v.split()[0]) / 1024, 1) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(.+)$", status, re.M)}
    return None


def du_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 2**20, 1)


def measure(engine, embedder, queries: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    from search.interface import WorkFilters
    from search.service import Discovery

    service = Discovery(engine, embedder, cache_size=100_000)
    works = queries["works"]
    vectors: dict[str, list[float]] = {}
    results: dict[str, dict[str, float]] = {}

    def embed(q: str) -> None:  # the service caches the vector: later rows measure search without the model
        vectors[q] = service.embed(q)

    embedder.embed_one("warm up the model")
    results["embed query"] = timed(embed, works, warmup=0)
    for label, mode in (("works hybrid", "hybrid"), ("works keyword", "keyword"), ("works semantic", "semantic")):
        results[label] = timed(lambda q, mode=mode: service.search_works(q, mode=mode), works)
    none = WorkFilters()
    results["bm25 top-100"] = timed(lambda q: engine.keyword_works(q, none, 100), works)
    results["knn top-100"] = timed(lambda q: engine.vector_works(vectors[q], none, 100), works)
    candidates = {q: [i for i, _ in engine.vector_works(vectors[q], none, 100)] for q in works}
    results["facets"] = timed(lambda q: engine.work_facets(q, candidates[q], none), works)
    results["keyword common words"] = timed(lambda q: service.search_works(q, mode="keyword"), queries["common"], warmup=3)
    results["people by name"] = timed(lambda q: service.search_people(q, limit=10), queries["names"])
    results["similar researchers"] = timed(lambda r: service.similar_researchers(r, "collaborators", 10), queries["researchers"])
    return results


def embedding_throughput(embedder, texts: list[str]) -> float:
    embedder.embed(texts[:64])
    clock = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - clock)


def engine_versions(engine_name: str, url: str | None) -> dict[str, str]:
    import sqlite3

    versions = {"sqlite": sqlite3.sqlite_version}
    if engine_name == "opensearch" and url:
        try:
            from opensearchpy import OpenSearch

            client = OpenSearch(hosts=[url], timeout=5)
            info = client.info()
            versions["opensearch"] = info["version"]["number"]
            plugins = client.cat.plugins(format="json")
            versions["opensearch plugins"] = ", ".join(sorted({f"{p['component']} {p['version']}" for p in plugins}))
            client.close()
        except Exception as exc:  # noqa: BLE001
            versions["opensearch"] = f"unknown ({type(exc).__name__})"
    return versions


# -- one (scale, engine) in this process -----------------------------------------------------------


def run_one(root: Path, scale: str, engine_name: str, url: str | None, rebuild: bool, count: int,
            prepare_only: bool = False) -> dict:
    """Prepare (or reuse) the index for one scale and engine, then measure it."""
    from search.engines import open_engine

    started = time.perf_counter()
    load_before = os.getloadavg()
    base, real_info = real_corpus(root)
    queries = query_sets(base, count)
    settings = real_settings(root, engine_name, url)
    embedder = settings.embedder()
    out: dict = {"scale": scale, "engine": engine_name, "queries": {k: len(v) for k, v in queries.items()},
                 "real_corpus": real_info}
    if SCALES[scale] is None:
        corpus = base
        index_dir = settings.index_dir
    else:
        corpus = synthetic_corpus(base, SCALES[scale])
        index_dir = root / f"synth-{scale}" / "index"
        settings = settings.model_copy(update={"data_dir": root / f"synth-{scale}", "opensearch_prefix": f"discovery-bench-{scale}"})
    engine = open_engine(settings)
    build_file = index_dir.parent / f"build-{engine_name}.json"
    try:
        try:  # an index of an older layout is refused by the engine: then it is rebuilt
            info = engine.info() if engine_name == "embedded" else None
        except Exception:  # noqa: BLE001
            info = None
        expected = {"works": corpus.counts["works"]}
        reuse = (
            engine_name == "embedded" and not rebuild and info is not None
            and info.counts.get("works") == expected["works"] and build_file.exists()
        )
        if reuse:
            out["build"] = {**json.loads(build_file.read_text()), "reused": True}
        else:
            clock = time.perf_counter()
            last = [0.0]

            def progress(stage: str, done: int, total: int) -> None:
                if time.perf_counter() - last[0] > 30:
                    last[0] = time.perf_counter()
                    print(f"  [{scale} {engine_name}] {stage} {done}/{total}", file=sys.stderr, flush=True)

            built = engine.build(corpus, progress)
            seconds = time.perf_counter() - clock
            out["build"] = {"seconds": round(seconds, 1), "works": built.counts.get("works"),
                            "researchers": built.counts.get("researchers"),
                            "works_per_second": round(built.counts.get("works", 0) / seconds, 1), "reused": False,
                            "rss_after_build_mb": rss_mb()}
            build_file.parent.mkdir(parents=True, exist_ok=True)
            build_file.write_text(json.dumps(out["build"]))
        info = engine.info()
        out["index"] = {"version": info.version, "counts": info.counts}
        if prepare_only:
            return out
        if engine_name == "embedded":
            out["index"]["disk_mb"] = du_mb(index_dir / f"v{info.version}")
        out["latency_ms"] = measure(engine, embedder, queries)
        out["rss_mb"] = rss_mb()
        if engine_name == "opensearch":
            out["node_rss_mb"] = opensearch_node_rss()
        if scale == "28k" and engine_name == "embedded":
            texts = [w.title + ". " + (w.abstract or "") for w in list(base.works())[:512]]
            out["embedding_texts_per_second"] = round(embedding_throughput(embedder, texts), 1)
    finally:
        engine.close()
        if engine_name == "opensearch" and not getattr(run_one, "keep_opensearch", False):
            drop = getattr(engine, "drop", None)
            if drop:
                drop()
    out["versions"] = engine_versions(engine_name, settings.opensearch_url if engine_name == "opensearch" else None)
    out["load_average"] = {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]}
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


# -- the table -------------------------------------------------------------------------------------


def table(runs: list[dict], info: dict) -> str:
    columns = [(r["scale"], r["engine"]) for r in runs if "latency_ms" in r]
    lines = [
        f"machine: {info['cpus']} CPUs ({info['cpu_model']}), Python {info['python']}, numpy {info['numpy']}, "
        f"torch {info['torch']} ({info['torch_threads']} threads)",
    ]
    for r in runs:
        versions = ", ".join(f"{k} {v}" for k, v in r.get("versions", {}).items())
        lines.append(f"{r['scale']:>5} {r['engine']:<10} {versions}")
    lines.append("")
    head = f"{'query type (ms)':<22}" + "".join(f"{s + ' ' + e:>24}" for s, e in columns)
    lines += [head, f"{'':<22}" + "".join(f"{'p50 / p95 / p99':>24}" for _ in columns)]
    for qtype in QUERY_TYPES:
        cells = []
        for r in runs:
            if "latency_ms" not in r:
                continue
            m = r["latency_ms"].get(qtype)
            cells.append(f"{m['p50']:.1f} / {m['p95']:.1f} / {m['p99']:.1f}" if m else "-")
        lines.append(f"{qtype:<22}" + "".join(f"{c:>24}" for c in cells))
    lines.append("")

    def row(label: str, get: Callable[[dict], object]) -> None:
        cells = []
        for r in runs:
            if "latency_ms" not in r:
                continue
            try:
                value = get(r)
            except (KeyError, TypeError):
                value = None
            cells.append("-" if value is None else str(value))
        lines.append(f"{label:<22}" + "".join(f"{c:>24}" for c in cells))

    row("works indexed", lambda r: r["index"]["counts"]["works"])
    row("researchers indexed", lambda r: r["index"]["counts"]["researchers"])
    row("build works/s", lambda r: r["build"]["works_per_second"])
    row("build seconds", lambda r: r["build"]["seconds"] if not r["build"].get("reused") else f"{r['build']['seconds']} (earlier)")
    row("index on disk MB", lambda r: r["index"].get("disk_mb"))
    row("query RSS peak MB", lambda r: r["rss_mb"]["VmHWM"])
    row("node JVM RSS MB", lambda r: (r.get("node_rss_mb") or {}).get("VmRSS"))
    row("queries (works)", lambda r: r["queries"]["works"])
    row("load avg before/after", lambda r: f"{r['load_average']['before'][0]}/{r['load_average']['after'][0]}")
    embed = next((r.get("embedding_texts_per_second") for r in runs if r.get("embedding_texts_per_second")), None)
    if embed:
        lines.append(f"\nbulk embedding (all-MiniLM-L6-v2, batch 64, CPU): {embed} texts/s")
    failed = [r for r in runs if "latency_ms" not in r]
    for r in failed:
        lines.append(f"{r['scale']} {r['engine']}: not measured: {r.get('error')}")
    return "\n".join(lines)


def opensearch_reachable(url: str) -> bool:
    try:
        from opensearchpy import OpenSearch

        client = OpenSearch(hosts=[url], timeout=3)
        ok = bool(client.ping())
        client.close()
        return ok
    except Exception:  # noqa: BLE001
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(os.environ.get("DISCOVERY_BENCH_ROOT", DEFAULT_ROOT)),
                        help="kept between runs: vector cache, the 28k catalog, embedded indexes")
    parser.add_argument("--scales", default="28k,100k,1m")
    parser.add_argument("--engines", default="embedded,opensearch")
    parser.add_argument("--opensearch-url", default=os.environ.get("DISCOVERY_OPENSEARCH_URL", "http://127.0.0.1:9250"))
    parser.add_argument("--opensearch-scales", default="28k", help="scales OpenSearch runs at")
    parser.add_argument("--queries", type=int, default=250, help="distinct work queries (>= 200)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild embedded indexes even if present")
    parser.add_argument("--json", type=Path, help="write all results here")
    parser.add_argument("--prepare-only", action="store_true", help="build the embedded indexes, measure nothing")
    parser.add_argument("--one", nargs=2, metavar=("SCALE", "ENGINE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.root.mkdir(parents=True, exist_ok=True)

    if args.one:  # a child process: one scale on one engine, JSON on stdout's last line
        scale, engine = args.one
        result = run_one(args.root, scale, engine, args.opensearch_url, args.rebuild, args.queries, args.prepare_only)
        print(json.dumps(result, default=str))
        return 0

    info = machine()
    print(f"machine: {describe()}", flush=True)
    plan = []
    for scale in args.scales.split(","):
        for engine in args.engines.split(","):
            if engine == "opensearch" and scale not in args.opensearch_scales.split(","):
                continue
            plan.append((scale, engine))
    runs = []
    for scale, engine in plan:
        if engine == "opensearch" and not opensearch_reachable(args.opensearch_url):
            runs.append({"scale": scale, "engine": engine,
                         "error": f"no OpenSearch at {args.opensearch_url} (bash scripts/opensearch-node.sh start)"})
            print(f"{scale} {engine}: skipped, no node at {args.opensearch_url}", flush=True)
            continue
        print(f"{scale} {engine}: running ...", flush=True)
        command = [sys.executable, "-m", "bench.search", "--one", scale, engine, "--root", str(args.root),
                   "--opensearch-url", args.opensearch_url, "--queries", str(args.queries)]
        if args.rebuild:
            command.append("--rebuild")
        if args.prepare_only:
            command.append("--prepare-only")
        proc = subprocess.run(command, cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE, text=True)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            runs.append({"scale": scale, "engine": engine, "error": f"exit {proc.returncode}"})
        else:
            runs.append(json.loads(lines[-1]))
        print(f"{scale} {engine}: done", flush=True)
    text = table(runs, info)
    print("\n" + text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": info, "runs": runs, "table": text}, indent=2, default=str))
    failed = [r for r in runs if str(r.get("error", "")).startswith("exit")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
