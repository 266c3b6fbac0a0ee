"""Indexing benchmark: ingest a corpus into a scratch data directory, index it twice, print rates.

    .venv/bin/python -m bench.index [FILES...] [--engine embedded|opensearch]

Defaults to the 28k ml-venues corpus plus the seed works from ../shared/data. The second index run
shows the vector cache at work (0 embedded).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.machine import describe, machine
from indexer.catalog import Catalog
from indexer.ingest import ingest
from indexer.pipeline import index
from models.settings import Settings
from search.engines import open_engine

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_FILES = [SHARED / "ml-venues.openalex.jsonl.gz", SHARED / "seed-researcher.openalex.jsonl"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, default=DEFAULT_FILES)
    parser.add_argument("--engine", default="embedded", choices=["embedded", "opensearch"])
    parser.add_argument("--data-dir", type=Path, help="reuse a data directory (and its vector cache)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="discovery-bench-"))
    settings = Settings(data_dir=data_dir, engine=args.engine)
    print(f"machine: {describe()}\ndata dir: {data_dir}")
    results: dict[str, object] = {"machine": machine(), "engine": args.engine, "files": [str(f) for f in args.files]}
    with Catalog(settings.catalog_path) as catalog:
        clock = time.perf_counter()
        report = ingest(catalog, args.files)
        ingest_seconds = time.perf_counter() - clock
        print(f"ingest: {report.read} records in {ingest_seconds:.1f}s ({report.read / ingest_seconds:.0f} records/s)")
        results["ingest"] = {**report.counts(), "seconds": ingest_seconds}
        engine = open_engine(settings)
        embedder = settings.embedder()
        for run in ("first", "second"):
            result = index(catalog, engine, embedder)
            s = result.seconds
            rate = result.embedded / s["embed"] if result.embedded else 0.0
            print(f"index ({run}): {result.works} works, {result.embedded} embedded in {s['embed']:.1f}s "
                  f"({rate:.1f} works/s), identity {s['identity']:.1f}s, aggregates {s['aggregate']:.1f}s, "
                  f"engine build {s['build']:.1f}s, total {s['total']:.1f}s; {result.researchers} researchers, "
                  f"{result.topics} topics")
            results[f"index_{run}"] = {"works": result.works, "embedded": result.embedded, "works_per_second": rate,
                                       "seconds": s, "researchers": result.researchers, "topics": result.topics}
        engine.close()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
