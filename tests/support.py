"""Shared test helpers: one real embedding model per test process; the browser the browser tests drive."""

import os
import shutil
from functools import lru_cache
from pathlib import Path

from models.embedding import Embedder

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@lru_cache(maxsize=1)
def real_embedder() -> Embedder:
    return Embedder()


# Debian's chromium, driven by Playwright (never a downloaded browser)
CHROMIUM = os.environ.get("DISCOVERY_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
