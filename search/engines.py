"""Open the engine the settings name; the only place that knows every engine class."""

from __future__ import annotations

from models.settings import Settings
from search.interface import SearchEngine


def open_engine(settings: Settings) -> SearchEngine:
    if settings.engine == "opensearch":
        from search.opensearch import OpenSearchEngine

        return OpenSearchEngine(
            settings.opensearch_url,
            prefix=settings.opensearch_prefix,
            timeout=settings.opensearch_timeout,
            shards=settings.opensearch_shards,
            replicas=settings.opensearch_replicas,
        )
    from search.embedded import EmbeddedEngine

    return EmbeddedEngine(settings.index_dir)
