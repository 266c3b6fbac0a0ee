"""The embedded engine's nearest researchers through an IVF index (`search.ann`) once a version has
ANN_MIN_ROWS researchers: it answers as the exact scan does (exact cosines, filters and exclusions
kept) and is read safely from several threads; `tests/test_embedded_update.py` checks that an update
keeps it equal to the researcher matrix. The threshold is lowered so that the fixture corpus (real
records, the real model, real SQLite, real faiss) crosses it; at its real value the contract suite's
versions stay exact.
"""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import faiss
import numpy as np
import pytest

from search import ann


def ivf_rows(path: Path) -> dict[int, bytes]:
    """What a version's IVF file holds: row -> its stored vector (IVF-Flat keeps the float32 row)."""
    index = faiss.read_index(str(path / ann.FILE))
    held: dict[int, bytes] = {}
    for number in range(index.nlist):
        size = index.invlists.list_size(number)
        if size:
            ids = faiss.rev_swig_ptr(index.invlists.get_ids(number), size).copy()
            codes = faiss.rev_swig_ptr(index.invlists.get_codes(number), size * index.code_size).copy()
            for row, vector in zip(ids, codes.view(np.float32).reshape(size, -1)):
                assert int(row) not in held
                held[int(row)] = vector.tobytes()
    return held


def matrix_rows(path: Path) -> dict[int, bytes]:
    matrix = np.load(path / "researchers.npy")
    return {row: matrix[row].tobytes() for row in np.flatnonzero(np.any(matrix != 0, axis=1)).tolist()}


def researcher_ids(path: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{path / 'index.sqlite'}?mode=ro", uri=True)
    try:
        return [i for (i,) in conn.execute("SELECT id FROM researchers ORDER BY rowid")]
    finally:
        conn.close()


def test_nearest_researchers_through_the_ivf_index_answer_as_the_exact_scan(corpus, engine_factory, monkeypatch):
    exact = engine_factory("embedded")()
    exact.build(corpus)
    assert not (Path(exact.info().meta["path"]) / ann.FILE).exists()  # below the threshold: no index, exact scan
    monkeypatch.setattr(ann, "ANN_MIN_ROWS", 200)
    approximate = engine_factory("embedded")()
    approximate.build(corpus)
    path = Path(approximate.info().meta["path"])
    assert ivf_rows(path) == matrix_rows(path)

    people = researcher_ids(path)[::40][:40]
    vectors = exact.researcher_vectors(people)
    asked = [(vectors[rid], 10, [rid], None, None) for rid in people if rid in vectors]
    asked += [(vectors[rid], 10, [rid], 2020, None) for rid in people[:10] if rid in vectors]
    assert len(asked) > 30
    recalls = []
    for args in asked:
        truth = dict(exact.vector_researchers(*args))
        found = approximate.vector_researchers(*args)
        assert len(found) == len(truth) == 10 and args[2][0] not in dict(found)
        assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
        kth = min(truth.values())
        recalls.append(sum(s >= kth - 1e-6 for _, s in found) / 10)
        cosines = approximate.researcher_vectors([rid for rid, _ in found])
        for rid, score in found:  # scores are the exact cosines, not the index's
            assert score == pytest.approx(float(np.dot(cosines[rid], args[0]) / np.linalg.norm(args[0])), abs=1e-5)
        if args[3] is not None:
            assert all(doc.last_year >= 2020 for doc in approximate.get_researchers([rid for rid, _ in found]))
    assert np.mean(recalls) >= 0.9, recalls
    index, matrix = ann.load(path), np.load(path / "researchers.npy")
    answered = [ann.search(index, matrix, np.asarray(v, np.float32), 10, None, np.zeros(0, np.int64)) for v, *_ in asked]
    assert all(answered), "the index itself answered (no fallback to the exact scan)"

    def ask(args):  # every thread reads the one loaded index with its own search parameters
        return approximate.vector_researchers(*args)

    alone = [ask(args) for args in asked]
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(ask, asked * 4))
    assert together == alone * 4



def test_rows_with_a_vector_are_found_chunk_by_chunk_across_chunk_edges(tmp_path, monkeypatch):
    """`has_vector` reads a memory-mapped matrix a few rows at a time and finds the zero rows wherever
    they fall: first, last, at both sides of a chunk edge."""
    monkeypatch.setattr(ann, "CHUNK_ROWS", 4)
    matrix = np.random.default_rng(0).standard_normal((11, 3)).astype(np.float32)
    zero = [0, 3, 4, 10]
    matrix[zero] = 0
    matrix[5, 1:] = 0  # one non-zero value is a vector
    np.save(tmp_path / "m.npy", matrix)
    found = ann.has_vector(np.load(tmp_path / "m.npy", mmap_mode="r"))
    assert found.tolist() == [i not in zero for i in range(11)]
