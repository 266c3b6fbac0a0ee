"""Shared test helpers: one real embedding model per test process."""

from functools import lru_cache
from pathlib import Path

from models.embedding import Embedder

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@lru_cache(maxsize=1)
def real_embedder() -> Embedder:
    return Embedder()
