"""The work vectors of one build: one float32 matrix with an id -> row map.

A build keeps every work's vector at once (identities, topics and aggregates read them); as one
matrix that is 4 bytes per dimension and work, where a dict of per-work arrays paid an object per
work and the documents' lists of Python floats about 12 KB. Above MEMMAP_ROWS rows the matrix is a
memory-mapped file in the data directory (unlinked at once: it never outlives the build), so the page cache, not the
process, holds it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np

MEMMAP_ROWS = 200_000
"""At 384 dimensions, 200k rows are 300 MB: beyond that the matrix lives in a file."""


class VectorMatrix(Mapping[str, np.ndarray]):
    """Read like a dict of work id -> vector (each value a row view, never a copy)."""

    def __init__(self, ids: Sequence[str], dimension: int, directory: Path | None = None):
        self.row_of = {wid: row for row, wid in enumerate(ids)}
        shape = (len(self.row_of), dimension)
        if directory is not None and shape[0] > MEMMAP_ROWS:
            Path(directory).mkdir(parents=True, exist_ok=True)
            handle, path = tempfile.mkstemp(prefix="build-vectors-", suffix=".f32", dir=directory)
            os.close(handle)
            self.matrix = np.memmap(path, dtype=np.float32, mode="w+", shape=shape)
            os.unlink(path)  # the mapping keeps the pages; the file goes with the process, crash or not
        else:
            self.matrix = np.zeros(shape, dtype=np.float32)

    @property
    def dimension(self) -> int:
        return self.matrix.shape[1]

    def __getitem__(self, work_id: str) -> np.ndarray:
        return self.matrix[self.row_of[work_id]]

    def __contains__(self, work_id: object) -> bool:
        return work_id in self.row_of

    def __iter__(self) -> Iterator[str]:
        return iter(self.row_of)

    def __len__(self) -> int:
        return len(self.row_of)
