"""Python's cyclic garbage collector, paused while an index is built.

A build holds millions of small objects (mentions, clusters' sets, documents) that live until it
ends. Each automatic full collection walks all of them, and the longer the build the more full
collections run: at 100k works they were most of identity's CPU time (24 of them, about 3 s each),
growing faster than the corpus. The build makes next to no reference cycles (reference counting
frees its garbage), so the collector is paused for its length and left to run again after.
The pause is process-wide (`gc` has one switch): in the web app a reindex pauses it for the
requests served meanwhile too, whose garbage reference counting also frees."""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from typing import Iterator

_lock = threading.Lock()
_holders = 0  # builds under way: the collector runs again when the last one ends
_was_enabled = True


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause automatic collection for the block (or the decorated function); nested and concurrent
    pauses are counted, and the collector's state before the first is restored after the last."""
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
