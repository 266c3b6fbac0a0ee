"""Scratch indexes for evaluations: works in, a built engine and a `Discovery` over it out.

Embedding is the expensive step (about 50 texts/s on two cores), so vectors go through a
persistent cache (a catalog file used only for its `vectors` table, keyed by model and text hash,
the same key the indexer uses): the first run of an evaluation embeds, later runs reuse. The
catalog and the index live in a scratch directory removed afterwards (unless one is given); on
OpenSearch the indexes get a fresh prefix and are dropped afterwards when the engine can.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from indexer.catalog import Catalog, content_hash, text_hash
from indexer.pipeline import IndexReport, build_corpus, embed_works
from models.embedding import Embedder
from models.records import Work
from models.settings import Settings
from search.interface import Corpus, Progress

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
"""Where the judged collections and corpora live beside a checkout (tests and benchmarks only)."""


def default_vector_cache(settings: Settings) -> Path:
    return Path(settings.data_dir) / "vector-cache.sqlite"


def cached_vectors(
    works: Sequence[Work], embedder: Embedder, cache_path: Path, progress: Progress | None = None
) -> dict[str, np.ndarray]:
    """Work id -> vector, embedding only the texts the cache lacks (stored as they are embedded)."""
    Path(cache_path).parent.mkdir(parents=True, exist_ok=True)
    with Catalog(cache_path) as cache:
        vectors, _ = embed_works(cache, works, embedder, progress)
    return vectors


def fill_catalog(catalog: Catalog, works: Sequence[Work], label: str = "evaluation") -> None:
    for start in range(0, len(works), 1000):
        batch = works[start : start + 1000]
        catalog.upsert_works([(w, content_hash(w), label, start + i + 1) for i, w in enumerate(batch)])


@dataclass
class ScratchIndex:
    settings: Settings
    engine: object
    discovery: object
    corpus: Corpus
    report: IndexReport
    catalog_mentions: dict[str, str]
    """Mention key (`<work id>#<position>`) -> researcher id, as this build resolved them."""


@contextmanager
def scratch_index(
    works: Sequence[Work],
    settings: Settings,
    embedder: Embedder | None = None,
    vector_cache: Path | None = None,
    scratch_dir: Path | None = None,
    previous_mentions: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> Iterator[ScratchIndex]:
    """Index `works` on the configured engine in a scratch place; yields a ready `ScratchIndex`.

    `previous_mentions` seeds the identity memory, so researchers keep ids chosen elsewhere
    (the collaborator evaluation builds its history index with the full corpus's ids).
    """
    from search.engines import open_engine
    from search.service import Discovery

    embedder = embedder or settings.embedder()
    vector_cache = Path(vector_cache or default_vector_cache(settings))
    keep = scratch_dir is not None
    root = Path(scratch_dir) if keep else Path(tempfile.mkdtemp(prefix="discovery-eval-"))
    scratch = settings.model_copy(
        update={"data_dir": root, "opensearch_prefix": f"{settings.opensearch_prefix}-eval-{uuid.uuid4().hex[:8]}"}
    )
    vectors = cached_vectors(works, embedder, vector_cache, progress)
    engine = None
    try:
        with Catalog(scratch.catalog_path) as catalog:
            fill_catalog(catalog, works)
            catalog.store_vectors(embedder.cache_key, {text_hash(w.embedding_text()): vectors[w.id] for w in works})
            if previous_mentions:
                catalog.store_mention_researchers(previous_mentions)
            corpus, report = build_corpus(catalog, embedder, progress)
            mentions = catalog.mention_researchers()
        engine = open_engine(scratch)
        report.info = engine.build(corpus, progress)
        yield ScratchIndex(scratch, engine, Discovery(engine, embedder, cache_size=4096), corpus, report, mentions)
    finally:
        if engine is not None:
            engine.close()
            drop = getattr(engine, "drop", None)
            if drop and scratch.engine != "embedded":
                try:
                    drop()
                except Exception:  # noqa: BLE001 - cleanup must not hide the evaluation's own error
                    pass
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
