"""`discovery demo`: ingest and index the bundled corpus into a data directory, ready to serve."""

from __future__ import annotations

from pathlib import Path

from models.settings import Settings

DEMO_DIR = Path(__file__).parent / "demo"
DEMO_FILES = ("seed-researcher.openalex.jsonl", "openalex-works-sample.jsonl.gz", "arxiv-metadata-sample.jsonl.gz")


def prepare_demo(settings: Settings, progress_enabled: bool = True) -> Settings:
    """Idempotent: a second run finds every record unchanged and every vector cached."""
    from indexer.catalog import Catalog
    from indexer.ingest import ingest
    from indexer.pipeline import index
    from search.engines import open_engine
    from web.cli import progress_bars

    with Catalog(settings.catalog_path) as catalog:
        report = ingest(catalog, [DEMO_DIR / name for name in DEMO_FILES])
        print(f"demo corpus: {report.read} records ({report.added} new, {report.rejected} rejected)")
        engine = open_engine(settings)
        try:
            if catalog.stats()["not_yet_indexed"] or engine.info() is None:
                with progress_bars(progress_enabled) as progress:
                    from models.accounts import expertise_exclusions

                    result = index(catalog, engine, settings.embedder(), progress,
                                   exclusions=expertise_exclusions(settings.accounts_database_url))
                print(f"indexed {result.works} works, {result.researchers} researchers, {result.topics} topics "
                      f"({result.embedded} embedded) in {result.seconds['total']:.0f}s")
        finally:
            engine.close()
    return settings
