"""How the "related works" similarity floor was chosen (`search.service.above_floor`).

    python -m bench.similarity_floor COLLECTION [--vector-cache FILE]

On a judged collection (CISI by default, the development set: CACM stays the relevance test set)
each judged query's 100 nearest works by cosine are labelled relevant or not; nonsense queries
(seeded random letter strings) show how close the corpus sits to text that means nothing. For every
(absolute floor, share of the query's best cosine) pair the table prints the precision and recall
of "above the floor" among those 100 and the share of nonsense queries that would still show a
related work. The chosen pair keeps nonsense out and precision above the unfiltered top 100.
"""

from __future__ import annotations

import argparse
import random
import string
from pathlib import Path

from evaluation.relevance import doc_id_map, load_collection, resolve_doc
from evaluation.scratch import scratch_index
from models.settings import Settings
from search.interface import WorkFilters

FLOORS = (0.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45)
RATIOS = (0.0, 0.7, 0.75, 0.8, 0.85, 0.9)
NONSENSE = 50


def nonsense_queries(count: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    return [" ".join("".join(rng.choices(string.ascii_lowercase, k=rng.randint(5, 12))) for _ in range(rng.randint(1, 3)))
            for _ in range(count)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("collection", nargs="?", default="cacm")
    parser.add_argument("--vector-cache", type=Path)
    args = parser.parse_args(argv)
    collection = load_collection(args.collection)
    works, _ = collection.load_works()
    ids = doc_id_map(works)
    settings = Settings()
    with scratch_index(works, settings, vector_cache=args.vector_cache) as built:
        service, engine = built.discovery, built.engine
        judged_runs = []
        for query in collection.queries:
            judged = {resolve_doc(ids, d) for d, g in collection.qrels.get(query.id, {}).items() if g > 0} - {None}
            if judged:
                judged_runs.append((engine.vector_works(service.embed(query.text), WorkFilters(), 100), judged))
        nonsense = [engine.vector_works(service.embed(q), WorkFilters(), 100) for q in nonsense_queries(NONSENSE)]
    relevant_total = sum(len({i for i, _ in run} & judged) for run, judged in judged_runs)
    print(f"{collection.name}: {len(judged_runs)} judged queries, {relevant_total} relevant works in their top 100; "
          f"{NONSENSE} nonsense queries (best cosine max {max(r[0][1] for r in nonsense):.3f})")
    print(f"{'floor':>6} {'ratio':>6} {'precision':>10} {'recall':>8} {'kept/query':>11} {'nonsense shown':>15}")
    for floor in FLOORS:
        for ratio in RATIOS:
            kept = relevant = 0
            for run, judged in judged_runs:
                cut = max(floor, ratio * run[0][1]) if run else 1.0
                above = [i for i, s in run if s >= cut]
                kept += len(above)
                relevant += len(set(above) & judged)
            shown = sum(1 for run in nonsense if run and run[0][1] >= floor)
            precision = relevant / kept if kept else 0.0
            print(f"{floor:>6.2f} {ratio:>6.2f} {precision:>10.3f} {relevant / max(1, relevant_total):>8.3f} "
                  f"{kept / len(judged_runs):>11.1f} {shown / NONSENSE:>15.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
