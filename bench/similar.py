"""Similar researchers ("new collaborators") on a built index: the benchmark's query, profiled.

    .venv/bin/python -m bench.similar --data-dir DIR [--engine embedded|opensearch] [--researchers 200]

Times `Discovery.similar_researchers(r, "collaborators", 10)`, the `similar_p95_ms` query of
`bench.pipeline`, over the same kind of sample (researchers picked at random with `SEED`), and prints
p50/p95/max with the slowest researchers' neighbourhoods: co-authors, friends of friends (before
and after the cap), and the candidates scored. One JSON line goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

from bench.search import SEED
from evaluation.metrics import percentile
from models.settings import Settings


def neighbourhood(engine, researcher_id: str) -> dict[str, int]:
    """How large the walk is for one researcher: what the collaborator query reads and scores."""
    from search import service as S

    researcher = engine.get_researchers([researcher_id])[0]
    works = engine.get_works(researcher.work_ids)
    coauthors = S._coauthor_ids(researcher, works)
    middles = engine.researcher_coauthors(sorted(coauthors))
    large = engine.get_works(sorted({w for m in middles.values() for w in m.large_works}))
    exclude = coauthors | {researcher.id}
    every = S._friends_of_friends(middles, {w.id: w.researcher_ids for w in large}, exclude)
    return {"works": len(works), "coauthors": len(coauthors), "large_works": len(large),
            "friends_of_friends": len(every)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--engine", default="embedded")
    parser.add_argument("--researchers", type=int, default=200)
    parser.add_argument("--slowest", type=int, default=8)
    args = parser.parse_args(argv)

    from search.engines import open_engine
    from search.service import Discovery

    settings = Settings(data_dir=args.data_dir, engine=args.engine)
    engine = open_engine(settings)
    service = Discovery(engine, settings.embedder())
    try:
        from indexer.catalog import Catalog

        with Catalog(settings.catalog_path) as catalog:
            ids = sorted(set(catalog.mention_researchers().values()))
        picked = random.Random(SEED).sample(ids, min(len(ids), args.researchers))
        picked = [r for r in picked if engine.researcher_vectors([r])]
        for rid in picked[:10]:  # warm up, as the benchmark does
            service.similar_researchers(rid, "collaborators", 10)
        times: dict[str, float] = {}
        for rid in picked:
            clock = time.perf_counter()
            service.similar_researchers(rid, "collaborators", 10)
            times[rid] = (time.perf_counter() - clock) * 1000
        values = list(times.values())
        slowest = sorted(times, key=times.get, reverse=True)[: args.slowest]
        result = {
            "engine": args.engine, "researchers": len(values),
            "p50_ms": round(percentile(values, 50), 1), "p95_ms": round(percentile(values, 95), 1),
            "max_ms": round(max(values), 1), "load": round(os.getloadavg()[0], 1),
            "slowest": [{"id": rid, "ms": round(times[rid], 1), **neighbourhood(engine, rid)} for rid in slowest],
        }
    finally:
        engine.close()
    for row in result["slowest"]:
        print(json.dumps(row), file=sys.stderr)
    print(json.dumps({k: v for k, v in result.items() if k != "slowest"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
