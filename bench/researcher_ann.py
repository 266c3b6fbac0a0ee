"""Researcher kNN: the exact scan against faiss ANN indexes, at a given number of researchers.

Vectors are a built version's real researcher vectors (`researchers.npy` of an embedded index),
grown to `--researchers` by noisy copies as `bench.search` grows works (gaussian noise, sigma 0.02 per
dimension, renormalised). Queries are real researchers' vectors; recall@10 is against the exact
scan of the same matrix. Prints one JSON line per method: build seconds, recall@10, p50/p95 ms.

    python -m bench.researcher_ann --vectors <index>/v1/researchers.npy --researchers 300000
"""

from __future__ import annotations

import argparse
import json
import time

import faiss
import numpy as np

from search import ann

K = 10


def grown(real: np.ndarray, target: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    parts = [real]
    while sum(len(p) for p in parts) < target:
        copy = real + rng.normal(0.0, 0.02, real.shape).astype(np.float32)
        parts.append(copy / np.linalg.norm(copy, axis=1, keepdims=True))
    return np.ascontiguousarray(np.concatenate(parts)[:target], dtype=np.float32)


def timed(search, queries: np.ndarray) -> tuple[np.ndarray, list[float]]:
    found, times = [], []
    for q in queries:
        start = time.perf_counter()
        found.append(search(q[None, :]))
        times.append((time.perf_counter() - start) * 1000)
    return np.array(found), times


def recall_at_k(matrix: np.ndarray, queries: np.ndarray, found: np.ndarray, exact: np.ndarray) -> float:
    """Share of the found ids scoring at least the exact K-th score: researchers with the same works
    have the same vector, so an exact top 10 is one of several equally right lists."""
    hits = []
    for q, f, e in zip(queries, found, exact):
        kth = float(matrix[e[-1]] @ q)
        hits.append(sum(float(matrix[i] @ q) >= kth - 1e-5 for i in f if i >= 0) / K)
    return float(np.mean(hits))


def report(method: str, build_s: float, recall: float, times: list[float], **extra) -> None:
    print(json.dumps({"method": method, "build_s": round(build_s, 2), "recall@10": round(recall, 4),
                      "p50_ms": round(float(np.percentile(times, 50)), 3),
                      "p95_ms": round(float(np.percentile(times, 95)), 3), **extra}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", required=True)
    parser.add_argument("--researchers", type=int, default=300_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--methods", default="hnsw,ivf")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)  # one core, as a request has
    real = np.load(args.vectors)
    real = real[np.any(real != 0, axis=1)]
    matrix = grown(real, args.researchers)
    queries = real[np.random.default_rng(1).choice(len(real), args.queries, replace=False)]

    def exact_scan(q: np.ndarray) -> np.ndarray:
        scores = matrix @ q[0]
        top = np.argpartition(-scores, K)[:K]
        return top[np.argsort(-scores[top], kind="stable")]

    exact, times = timed(exact_scan, queries)
    report("numpy exact scan", 0.0, 1.0, times, researchers=len(matrix))
    for m, ef_construction in ((32, 40),) if "hnsw" in args.methods else ():
        start = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(matrix.shape[1], m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = ef_construction
        hnsw.add(matrix)
        build = time.perf_counter() - start
        for ef in (64, 128):
            hnsw.hnsw.efSearch = ef
            found, times = timed(lambda q: hnsw.search(q, K)[1][0], queries)
            report(f"faiss HNSW M{m} efC{ef_construction} ef{ef}", build, recall_at_k(matrix, queries, found, exact), times)
    if "ivf" in args.methods:  # the product's index: search.ann, its list count and exact rescoring
        start = time.perf_counter()
        ivf = ann.build(matrix)
        build = time.perf_counter() - start
        for nprobe in (16, 32, 64):
            ann.NPROBE = nprobe
            found, times = timed(lambda q: [r for r, _ in ann.search(ivf, matrix, q[0], K, None, np.zeros(0, np.int64))], queries)
            report(f"search.ann IVF{ivf.nlist} nprobe{nprobe}", build, recall_at_k(matrix, queries, found, exact), times)
        rewritten = np.random.default_rng(3).choice(len(matrix), len(matrix) // 100, replace=False)
        start = time.perf_counter()
        ann.updated(ivf, matrix, rewritten, len(matrix))
        print(json.dumps({"method": "search.ann update, 1% of rows rewritten", "seconds": round(time.perf_counter() - start, 2)}))

if __name__ == "__main__":
    main()
