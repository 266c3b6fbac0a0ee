"""What is live and what is pending: the admin page and `discovery status` print the same dict."""

from __future__ import annotations

from dataclasses import asdict

from indexer.catalog import CATALOG_STAMP, Catalog
from indexer.jobs import JobStore
from models.settings import Settings
from search.interface import IndexInfo, SearchError


def info_dict(info: IndexInfo | None) -> dict | None:
    return {**asdict(info), "built_at": info.built_at.isoformat()} if info else None


def index_lag(catalog: Catalog, live: dict | None, since_last_build: int) -> int:
    """Works ingested or changed after the *live* version was built (it may be an older one after a
    rollback); versions built before they recorded it fall back to the last build."""
    meta = (live or {}).get("meta") or {}
    return catalog.works_updated_since(meta[CATALOG_STAMP]) if CATALOG_STAMP in meta else since_last_build


def status(settings: Settings) -> dict:
    from search.engines import open_engine

    engine = open_engine(settings)
    try:
        live, engine_error = info_dict(engine.info()), None
    except SearchError as exc:
        live, engine_error = None, str(exc)
    finally:
        engine.close()
    with Catalog(settings.catalog_path) as catalog:
        stats = catalog.stats()
        jobs = JobStore(catalog, settings.data_dir)
        return {
            "engine": settings.engine,
            "engine_error": engine_error,
            "live": live,
            "catalog": {"works": stats["works"], "by_source": stats["works_by_source"]},
            "index_lag": index_lag(catalog, live, stats["not_yet_indexed"]),
            "running": [asdict(j) for j in jobs.running()],
            "recent": [asdict(j) for j in jobs.recent(10)],
        }


def status_text(data: dict) -> str:
    live = data["live"]
    lines = [f"engine: {data['engine']}"]
    if live:
        lines.append(f"live version: {live['version']}, built {live['built_at']} with {live['model']} "
                     f"({', '.join(f'{k} {v}' for k, v in live['counts'].items())})")
    else:
        lines.append(f"live version: none ({data['engine_error'] or 'run `discovery index`'})")
    lines.append(f"catalog: {data['catalog']['works']} works; ingested but not yet indexed: {data['index_lag']}")
    for job in data["running"]:
        lines.append(f"running: job {job['id']} {job['kind']} since {job['started_at'] or job['created_at']} {job['progress']}")
    for job in data["recent"]:
        outcome = job["error"] or ", ".join(f"{k} {v}" for k, v in (job["result"] or {}).items() if isinstance(v, (int, str)))
        lines.append(f"job {job['id']} {job['kind']} {job['status']} {job['finished_at'] or ''} {outcome}".rstrip())
    return "\n".join(lines)
