"""The topics stage alone: seconds and peak RSS per sub-step of `indexer.topics.assign_topics`.

    DISCOVERY_EMBEDDING_PASSAGES=false DISCOVERY_EMBEDDING_MAX_TOKENS=128 \\
        .venv/bin/python -m bench.topics --catalog /work/cache/mlv/catalog.sqlite

The catalog (a prepared one whose vector cache holds every work's vector under the configured
embedding settings, e.g. ml-venues' or `bench.pipeline`'s N-work one) is copied first and never
written. The stage runs as `discovery index` runs it: works streamed from the copy's snapshot
(`WorkStream`), vectors from the cache into one matrix (`embed_works`), then `assign_topics`.
Prints one JSON line: works, seconds per sub-step and in all, peak RSS per sub-step and over the
stage (VmHWM, reset as each sub-step starts), RSS before the stage, a hash of the output (two code
versions must print the same), the embedding settings, the machine and the load average.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench.machine import cpu_model
from bench.pipeline import peak_rss_mb
from indexer import topics
from indexer.catalog import Catalog
from indexer.pipeline import WorkStream, embed_works
from models.settings import Settings


class StepPeaks(dict):
    """Seconds per sub-step (what `assign_topics` adds up in it), and beside them the CPU seconds
    (`cpu`: on a shared machine the steadier number) and peak RSS (`peaks`) of each sub-step, read
    (and the peak reset) each time a sub-step ends."""

    def __init__(self) -> None:
        super().__init__()
        self.cpu: dict[str, float] = {}
        self.peaks: dict[str, float] = {}
        self.clock = time.process_time()

    def __setitem__(self, step: str, seconds: float) -> None:
        super().__setitem__(step, seconds)
        now = time.process_time()
        self.cpu[step] = self.cpu.get(step, 0.0) + now - self.clock
        self.clock = now
        self.peaks[step] = max(self.peaks.get(step, 0.0), peak_rss_mb(reset=True))


def output_hash(work_topics: dict, origin: dict) -> str:
    refs = {wid: [asdict(ref) for ref in found] for wid, found in work_topics.items()}
    return hashlib.sha256(json.dumps([refs, origin], sort_keys=True).encode()).hexdigest()[:16]


def run(catalog_path: Path, scratch: Path) -> dict:
    copy = scratch / "catalog.sqlite"
    shutil.copy(catalog_path, copy)
    embedder = Settings().embedder()
    load_before = os.getloadavg()
    with Catalog(copy) as catalog:
        works = WorkStream(copy)
        try:
            vectors, embedded = embed_works(catalog, works, embedder, directory=scratch)
            rss_before = peak_rss_mb(reset=True)
            clock, cpu = time.perf_counter(), time.process_time()
            steps = StepPeaks()
            work_topics, origin = topics.assign_topics(works, vectors, seconds=steps, directory=scratch)
            seconds, cpu_seconds = time.perf_counter() - clock, time.process_time() - cpu
        finally:
            works.close()
    return {
        "works": len(vectors),
        "embedded_now": embedded,  # works without a cached vector (then the model loaded: RSS includes it)
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "seconds_by_step": {step: round(s, 1) for step, s in steps.items()},
        "cpu_seconds_by_step": {step: round(s, 1) for step, s in steps.cpu.items()},
        "peak_rss_mb": max(steps.peaks.values(), default=rss_before),
        "peak_rss_mb_by_step": steps.peaks,
        "rss_before_mb": rss_before,
        "topics": len(origin),
        "output_hash": output_hash(work_topics, origin),
        "embedding": embedder.cache_key,
        "machine": f"{os.cpu_count()} CPUs ({cpu_model()})",
        "load_average": {"before": round(load_before[0], 1), "after": round(os.getloadavg()[0], 1)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, required=True, help="a prepared catalog.sqlite with every vector cached (copied)")
    parser.add_argument("--scratch", type=Path, default=Path(os.environ.get("DISCOVERY_BENCH_ROOT", "/var/tmp/discovery-bench")),
                        help="where the copy and the vector matrix go (removed afterwards)")
    args = parser.parse_args(argv)
    args.scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.scratch, prefix="topics-") as scratch:
        print(json.dumps(run(args.catalog, Path(scratch))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
