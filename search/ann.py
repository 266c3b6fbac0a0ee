"""Approximate nearest researchers for the embedded engine: a faiss inverted-file index (IVF) over
the researcher matrix, one file per index version beside `researchers.npy`.

Below ANN_MIN_ROWS researchers a version has no such file and the engine scans the matrix exactly
(the contract suite's fixtures stay exact). Above it, a search visits NPROBE of the index's lists
instead of every row; the rows it returns are scored again from the matrix, so a found researcher's
cosine is the exact one. IVF rather than HNSW: an update removes and adds the rows it rewrote,
while faiss's HNSW cannot remove, so each update would rebuild it (290 s at 300k researchers,
against 32 s for a whole IVF build and 1 s for an update rewriting 1% of the rows;
`bench/researcher_ann.py`). The lists are trained at each full build; updates add to them.

A loaded index is only ever read (search parameters go with each call), which faiss allows from
several threads at once.
"""

from __future__ import annotations

import math
from pathlib import Path

import faiss
import numpy as np

ANN_MIN_ROWS = 50_000
"""Researchers from which a version gets an IVF index (61k at the 30k-work ml-venues corpus)."""
NPROBE = 32
"""Lists a search visits: recall@10 0.997 against the exact scan at 300k researchers, 9.5 ms p95 against
80 ms (16: 0.993; 64: 0.998; `bench/researcher_ann.py`)."""
TRAIN_PER_LIST = 40
CHUNK_ROWS = 65536  # rows read from the matrix at a time
FILE = "researchers.ivf"


def has_vector(matrix: np.ndarray) -> np.ndarray:
    """Which rows are not all zero (a researcher without a vector), read CHUNK_ROWS at a time: the
    element-wise test of a whole memory-mapped matrix would be a temporary as large as a quarter of it
    (about 1.4 GB at 1M works' researchers)."""
    out = np.empty(matrix.shape[0], dtype=bool)
    for start in range(0, matrix.shape[0], CHUNK_ROWS):
        out[start : start + CHUNK_ROWS] = np.any(matrix[start : start + CHUNK_ROWS] != 0, axis=1)
    return out


def build(matrix: np.ndarray) -> faiss.Index | None:
    """An IVF index of the matrix's non-zero rows (ids = row numbers), or None below ANN_MIN_ROWS."""
    rows = np.flatnonzero(has_vector(matrix))
    if len(rows) < ANN_MIN_ROWS:
        return None
    lists = int(4 * math.sqrt(len(rows)))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(matrix.shape[1]), matrix.shape[1], lists, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(0).choice(rows, min(len(rows), TRAIN_PER_LIST * lists), replace=False)
    index.train(np.ascontiguousarray(matrix[np.sort(sample)], dtype=np.float32))
    _add(index, matrix, rows)
    return index


def updated(index: faiss.Index | None, matrix: np.ndarray, rewritten: np.ndarray, old_count: int) -> faiss.Index | None:
    """`index` (the base version's) after an update wrote `rewritten` rows and cut or grew the matrix
    from `old_count` rows to its length: those rows and the cut ones leave, the rewritten ones come
    back with their new vectors. Without a base index, or below ANN_MIN_ROWS, as `build`."""
    if index is None or int(has_vector(matrix).sum()) < ANN_MIN_ROWS:
        return build(matrix)
    gone = np.union1d(rewritten, np.arange(matrix.shape[0], old_count)).astype(np.int64)
    index.remove_ids(faiss.IDSelectorBatch(gone))
    rewritten = np.asarray(rewritten, dtype=np.int64)
    _add(index, matrix, rewritten[np.any(matrix[rewritten] != 0, axis=1)] if len(rewritten) else rewritten)
    return index


def _add(index: faiss.Index, matrix: np.ndarray, rows: np.ndarray) -> None:
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[start : start + CHUNK_ROWS]
        index.add_with_ids(np.ascontiguousarray(matrix[chunk], dtype=np.float32), chunk.astype(np.int64))


def save(index: faiss.Index | None, directory: Path) -> None:
    if index is not None:
        faiss.write_index(index, str(directory / FILE))


def load(directory: Path, mapped: bool = False) -> faiss.Index | None:
    """The version's index, or None. `mapped`: memory-mapped, read-only (a server's processes share
    the page cache instead of each holding a copy of every vector)."""
    path = directory / FILE
    if not path.exists():
        return None
    return faiss.read_index(str(path), faiss.IO_FLAG_MMAP) if mapped else faiss.read_index(str(path))


def search(index: faiss.Index, matrix: np.ndarray, query: np.ndarray, limit: int,
           allowed: np.ndarray | None, excluded: np.ndarray) -> list[tuple[int, float]] | None:
    """The `limit` nearest rows among `allowed` (None: all) less `excluded`, scored exactly from the
    matrix; None when the lists visited hold fewer than `limit` such rows (the caller scans instead)."""
    selector = faiss.IDSelectorBatch(np.setdiff1d(allowed, excluded)) if allowed is not None else (
        faiss.IDSelectorNot(faiss.IDSelectorBatch(excluded)) if len(excluded) else None)
    params = faiss.SearchParametersIVF(nprobe=NPROBE)
    if selector is not None:
        params.sel = selector
    _, found = index.search(query.reshape(1, -1).astype(np.float32), limit, params=params)
    rows = found[0][found[0] >= 0]
    if len(rows) < limit:
        return None
    scores = np.asarray(matrix[np.sort(rows)] @ query, dtype=np.float32)
    return sorted(zip(np.sort(rows).tolist(), scores.tolist()), key=lambda pair: (-pair[1], pair[0]))
