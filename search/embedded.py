"""The embedded engine: SQLite FTS5 for words, numpy for vectors, nothing to start.

Layout of `index_dir`:

    CURRENT            "v7": the live version, replaced atomically (write temp, fsync, os.replace)
    v6/                the previous version, kept for `rollback()`
    v7/index.sqlite    works (narrow: filters, facets), work_texts (FTS5 content), researchers,
                       topics, filter tables, FTS5 indexes, term_docs
    v7/works.npy       float32 unit vectors, row i = works.rowid i (likewise researchers/topics.npy)
    v7/facets/         per-work facet columns (year, type, venue codes; topics as CSR) for counting
    v7/manifest.json   written last: a version directory without it is half-built and ignored

`update` (an incremental reindex) copies the live version's files into the next one and applies
only the changed documents there (`_apply_changes`). Every version is immutable once its manifest
exists, so readers open it read-only (`immutable=1`, no locking) and memory-map the vectors. Each call checks CURRENT with one `stat` and moves to a new
version when it changed, so a running server picks up a build without restart; one call always
reads a single version, never a mix. Connections are per thread (FastAPI runs blocking calls in a
thread pool) and all are closed by `close()`.

Ranking: BM25 (FTS5 `bm25()`, k1=1.2, b=0.75 over the whole row) with column weights title 2 >
abstract, authors, venue, keywords 1 (`BM25_WEIGHTS`; topics not matched) over OR-ed, quoted terms, analysed as in `search.text`
(Porter stems, accents folded); exact cosine (`matrix @ query`) with filters applied before the top-k is taken.

Facets: SQL decides which works are counted (FTS5 match, filter clauses, ids); the counting is
`np.bincount` over per-work code columns written at build. Four GROUP BYs over 60k matching rows
took ~0.5 s at 1M works; the columns count them in milliseconds.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import sqlite3
import threading
from array import array
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, Literal, Sequence

import numpy as np

from models.records import ResearcherDoc, TopicDoc, WorkDoc
from search import ann
from search import text as T
from search.interface import (
    Changes,
    CoauthorList,
    FACET_LIMIT,
    BadQuery,
    Corpus,
    EngineUnavailable,
    FacetValue,
    IndexInfo,
    SPELLING_EDITS,
    NotFound,
    Progress,
    WorkFilters,
    best_suggestion,
    doc_fields,
    doc_json,
    spellable,
    researcher_from_dict,
    topic_from_dict,
    work_from_dict,
)
from search.pin import pinned

BM25_WEIGHTS = (2.0, 1.0, 1.0, 1.0, 1.0, 0.0)  # title, abstract, authors, venue, keywords, topics
"""Chosen with OpenSearch's `combined_fields` (the same BM25F) on CACM and CISI together: title 10 >
abstract 4 > rest 2 scored 0.423/0.281 nDCG@10 there, title 2 > rest 1 0.467/0.330 (README, Relevance).
Topics weigh 0 and are not matched (`MATCHED_COLUMNS`)."""
MATCHED_COLUMNS = ("title", "abstract", "authors", "venue", "keywords")
"""The columns a query's words must occur in. Not `topics`: a work's topic labels come from its
neighbours, not its own words, and matching them cost nDCG@10 on CACM and CISI (README, Keyword ranking)."""
# Query pruning. FTS5 computes BM25 for every document any OR-ed term matches, so one frequent term
# can cost more than the rest of the query, and at 1M works a query of several of them takes
# seconds. So the rarest terms are kept (they carry the BM25 weight anyway) while the documents they
# match stay within POSTINGS_BUDGET; a query made only of common terms requires all of them (AND).
# Small corpora are unaffected: no term comes near these numbers.
COMMON_MIN_DOCS = 5_000
COMMON_RATIO = 0.05
"""A term in more than max(COMMON_MIN_DOCS, COMMON_RATIO * works) works is *common*."""
POSTINGS_BUDGET = 60_000
"""Kept terms match at most this many documents between them (the rarest term is always kept)."""
TERM_DOCS_FLOOR = 1_000
"""Document frequencies are stored for terms above this; rarer terms are always kept in a query."""
RELAX_BELOW = 100
"""A query of only common terms that all of them match in fewer works than this also finds the works
that miss one of them (ranked after): ANDing every term is a cliff a long common-word query falls off."""
NAME_CANDIDATES = 200  # trigram candidates re-ranked by string similarity
SPELLING_TOKENIZER = "unicode61 remove_diacritics 2"  # "did you mean" words: folded, not stemmed
FORMAT = 5  # bump when the layout changes: an older version directory is refused, not misread
_VERSION_DIR = re.compile(r"v(\d+)")
_FACET_COLUMNS = ("year", "type", "venue", "topic_start", "topic")
_NO_YEAR = np.iinfo(np.int32).min
_WORK_COLUMNS = ("title", "abstract", "venue", "year", "type", "cited_by_count")

SCHEMA = f"""
-- Narrow rows for filters, facets and sorting (many fit a page); the text lives in work_texts.
CREATE TABLE works (
    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
    year INTEGER, type TEXT, venue TEXT, cited_by_count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE work_texts (
    rowid INTEGER PRIMARY KEY, title TEXT, abstract TEXT, authors TEXT, venue TEXT, keywords TEXT, topics TEXT,
    doc TEXT NOT NULL
);
CREATE TABLE work_topics (work INTEGER NOT NULL, topic TEXT NOT NULL);
CREATE TABLE work_authors (work INTEGER NOT NULL, researcher TEXT NOT NULL);
CREATE VIRTUAL TABLE works_fts USING fts5(
    title, abstract, authors, venue, keywords, topics,
    content='work_texts', content_rowid='rowid', tokenize='{T.FTS5_TOKENIZER}'
);
CREATE TABLE researchers (
    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    first_year INTEGER, last_year INTEGER, doc TEXT NOT NULL
);
CREATE TABLE researcher_ids (kind TEXT NOT NULL, value TEXT NOT NULL, researcher TEXT NOT NULL);
CREATE TABLE researcher_institutions (researcher INTEGER NOT NULL, name TEXT NOT NULL);
CREATE TABLE name_keys (key TEXT NOT NULL, researcher TEXT NOT NULL);
CREATE VIRTUAL TABLE names USING fts5(form, researcher UNINDEXED, tokenize='trigram');
CREATE TABLE topics (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, label TEXT, description TEXT, doc TEXT NOT NULL);
CREATE TABLE term_docs (term TEXT PRIMARY KEY, docs INTEGER NOT NULL) WITHOUT ROWID;
CREATE VIRTUAL TABLE topics_fts USING fts5(
    label, description, content='topics', content_rowid='rowid', tokenize='{T.FTS5_TOKENIZER}'
);
"""

INDEXES = """
CREATE INDEX works_year ON works(year);
CREATE INDEX works_type ON works(type);
CREATE INDEX works_venue ON works(venue);
CREATE INDEX work_topics_topic ON work_topics(topic, work);
CREATE INDEX work_topics_work ON work_topics(work);
CREATE INDEX work_authors_researcher ON work_authors(researcher, work);
CREATE INDEX work_authors_work ON work_authors(work);
CREATE INDEX researcher_ids_key ON researcher_ids(kind, value);
CREATE INDEX researcher_institutions_r ON researcher_institutions(researcher);
CREATE INDEX name_keys_key ON name_keys(key);
"""


# -- one built version, opened for reading -------------------------------------------------------


@dataclass
class _Version:
    name: str
    path: Path
    manifest: dict
    works: np.ndarray
    researchers: np.ndarray
    topics: np.ndarray
    facets: dict[str, np.ndarray]
    facet_values: dict[str, list[str]]
    _researcher_has_vector: np.ndarray | None = None
    _ann: object = None
    _ann_read: bool = False
    _ann_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, path: Path) -> "_Version":
        manifest = json.loads((path / "manifest.json").read_text())
        if manifest.get("format") != FORMAT:
            raise ValueError(f"built in index format {manifest.get('format')}, this engine reads {FORMAT}: rebuild")
        vectors = {kind: np.load(path / f"{kind}.npy", mmap_mode="r") for kind in ("works", "researchers", "topics")}
        facets = {column: np.load(path / "facets" / f"{column}.npy", mmap_mode="r") for column in _FACET_COLUMNS}
        values = json.loads((path / "facets" / "values.json").read_text())
        return cls(path.name, path, manifest, vectors["works"], vectors["researchers"], vectors["topics"], facets, values)

    @property
    def dimension(self) -> int:
        return int(self.manifest["dimension"])

    def connect(self) -> sqlite3.Connection:
        uri = f"file:{self.path / 'index.sqlite'}?mode=ro&immutable=1"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA temp_store=MEMORY")
        return conn

    def researcher_has_vector(self) -> np.ndarray:
        """Rows whose researcher has a vector (a zero row would otherwise score 0 and pad results)."""
        if self._researcher_has_vector is None:
            self._researcher_has_vector = ann.has_vector(self.researchers)
        return self._researcher_has_vector

    def researcher_ann(self):
        """The version's IVF index of researcher vectors (`search.ann`), read at first use; None
        when the version has too few researchers for one (then searches scan the matrix)."""
        with self._ann_lock:
            if not self._ann_read:
                self._ann, self._ann_read = ann.load(self.path, mapped=True), True
        return self._ann

    def info(self) -> IndexInfo:
        m = self.manifest
        return IndexInfo(
            engine="embedded",
            version=int(m["version"]),
            built_at=datetime.fromisoformat(m["built_at"]),
            model=m["model"],
            counts=dict(m["counts"]),
            meta={**m.get("meta", {}), "dimension": m["dimension"], "path": str(self.path),
                  **({"applied": m["applied"]} if "applied" in m else {})},
        )


def _rowids(conn: sqlite3.Connection, sql: str, params: Sequence[object]) -> np.ndarray:
    return np.fromiter((r for (r,) in conn.execute(sql, params)), dtype=np.int64)


def _largest(counts: np.ndarray, labels: Callable[[np.ndarray], dict[int, str]]) -> list[tuple[int, str, int]]:
    """The FACET_LIMIT largest non-zero counts as (code, label, count), ties by label.

    Codes without a label (a topic id the topics table does not know) are skipped; candidates are
    taken down to the FACET_LIMIT-th count so ties at the cut are ordered by label, not by code.
    """
    codes = np.flatnonzero(counts)
    if len(codes) == 0:
        return []
    ranked = codes[np.argsort(-counts[codes], kind="stable")]
    take = FACET_LIMIT
    while True:
        cut = counts[ranked[min(take, len(ranked)) - 1]]
        chosen = ranked[counts[ranked] >= cut]
        named = labels(chosen)
        found = sorted(((int(c), named[int(c)], int(counts[c])) for c in chosen if int(c) in named), key=lambda x: (-x[2], x[1]))
        if len(found) >= FACET_LIMIT or len(chosen) == len(ranked):
            return found[:FACET_LIMIT]
        take *= 2


def _count_facets(conn: sqlite3.Connection, version: _Version, rows: np.ndarray) -> dict[str, list[FacetValue]]:
    columns, values = version.facets, version.facet_values
    years = np.asarray(columns["year"][rows])
    years = years[years != _NO_YEAR]
    year_values, year_counts = np.unique(years, return_counts=True)
    facets = {"year": [FacetValue(str(y), str(y), int(c)) for y, c in zip(year_values[::-1], year_counts[::-1])]}
    for field in ("venue", "type"):
        codes = np.asarray(columns[field][rows])
        counts = np.bincount(codes[codes >= 0], minlength=len(values[field]))
        named = values[field]
        facets[field] = [FacetValue(v, v, c) for _, v, c in _largest(counts, lambda cs: {int(c): named[int(c)] for c in cs})]
    starts = np.asarray(columns["topic_start"][rows])
    lengths = np.asarray(columns["topic_start"][rows + 1]) - starts
    counts = np.bincount(np.asarray(columns["topic"][_segments(starts, lengths)]), minlength=len(values["topic"]))
    topic_ids = values["topic"]

    def topic_labels(codes: np.ndarray) -> dict[int, str]:
        ids = {topic_ids[int(c)]: int(c) for c in codes}
        found = conn.execute(f"SELECT id, label FROM topics WHERE id IN ({_marks(list(ids))})", list(ids)).fetchall()
        return {ids[tid]: label for tid, label in found}

    facets["topic"] = [FacetValue(topic_ids[code], label, c) for code, label, c in _largest(counts, topic_labels)]
    return facets


def _segments(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions `starts[i] .. starts[i] + lengths[i] - 1` of every i, in order (CSR rows)."""
    return np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))


def _readable(path: Path) -> bool:
    """A complete version directory in the format this engine reads."""
    try:
        return json.loads((path / "manifest.json").read_text()).get("format") == FORMAT
    except (OSError, ValueError):
        return False


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


def _filter_sql(filters: WorkFilters, alias: str = "w") -> tuple[str, list[object]]:
    """` AND ...` clauses over the works table: OR within one facet field, AND across fields."""
    sql, params = [], []
    if filters.year_from is not None:
        sql.append(f"{alias}.year >= ?")
        params.append(int(filters.year_from))
    if filters.year_to is not None:
        sql.append(f"{alias}.year <= ?")
        params.append(int(filters.year_to))
    for column, values in (("type", filters.types), ("venue", filters.venues)):
        if values:
            sql.append(f"{alias}.{column} IN ({_marks(values)})")
            params.extend(values)
    if filters.topics:
        sql.append(f"{alias}.rowid IN (SELECT work FROM work_topics WHERE topic IN ({_marks(filters.topics)}))")
        params.extend(filters.topics)
    if filters.researcher:
        sql.append(f"{alias}.rowid IN (SELECT work FROM work_authors WHERE researcher = ?)")
        params.append(filters.researcher)
    return "".join(" AND " + clause for clause in sql), params


def _top(scores: np.ndarray, rows: np.ndarray, limit: int) -> list[tuple[int, float]]:
    """The `limit` best (row, score) pairs, score descending then row ascending (deterministic)."""
    if limit <= 0 or len(scores) == 0:
        return []
    if limit < len(scores):
        keep = np.argpartition(-scores, limit - 1)[:limit]
        scores, rows = scores[keep], rows[keep]
    order = np.lexsort((rows, -scores))
    return [(int(rows[i]), float(scores[i])) for i in order if np.isfinite(scores[i])]


# -- the engine ----------------------------------------------------------------------------------


class EmbeddedEngine:
    name = "embedded"

    def __init__(self, index_dir: Path):
        self.index_dir = Path(index_dir)
        self._lock = threading.Lock()
        self._pointer: tuple | None = None  # (inode, mtime, ctime, size) of CURRENT when last read
        self._version: _Version | None = None
        self._local = threading.local()
        self._connections: set[sqlite3.Connection] = set()

    # -- reading the live version ------------------------------------------------------------

    @property
    def _current_file(self) -> Path:
        return self.index_dir / "CURRENT"

    def _live_name(self) -> str | None:
        try:
            name = self._current_file.read_text().strip()
        except FileNotFoundError:
            return None
        return name if _VERSION_DIR.fullmatch(name) else None

    def _live(self) -> _Version | None:
        """The live version, re-opened when CURRENT changed since the last call (one `stat`).

        A second attempt covers a version pruned by another process between reading CURRENT and
        opening the directory it named (two builds in quick succession).
        """
        for attempt in (1, 2):
            try:
                st = os.stat(self._current_file)
                pointer = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)
            except FileNotFoundError:
                pointer = None
            with self._lock:
                if pointer == self._pointer and (pointer is None or self._version is not None):
                    return self._version
                name = self._live_name()
                try:
                    self._version = _Version.open(self.index_dir / name) if name else None
                except (OSError, ValueError, KeyError) as exc:
                    if attempt == 2:
                        raise EngineUnavailable(f"index version {name} cannot be opened: {exc}") from exc
                    continue
                self._pointer = pointer
                return self._version
        return None  # pragma: no cover - the loop returns or raises

    @contextmanager
    def _read(self) -> Iterator[tuple[_Version, sqlite3.Connection]]:
        version = pinned(self, self._live) or self._live()  # one request, one version (search.pin)
        if version is None:
            raise EngineUnavailable("no index has been built yet")
        local = self._local
        if getattr(local, "version", None) is not version:
            old = getattr(local, "conn", None)
            if old is not None:
                self._forget(old)
            local.conn = version.connect()
            local.version = version
            with self._lock:
                self._connections.add(local.conn)
        yield version, local.conn

    def _forget(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            self._connections.discard(conn)
        conn.close()

    def close(self) -> None:
        with self._lock:
            connections, self._connections = list(self._connections), set()
            self._version, self._pointer = None, None
        for conn in connections:
            conn.close()
        self._local = threading.local()

    def info(self) -> IndexInfo | None:
        version = self._live()
        return version.info() if version else None

    # -- building versions -------------------------------------------------------------------

    @contextmanager
    def _build_lock(self) -> Iterator[None]:
        """One build at a time per index directory, across processes."""
        self.index_dir.mkdir(parents=True, exist_ok=True)
        with open(self.index_dir / ".build.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _versions(self) -> dict[int, Path]:
        found = {}
        if self.index_dir.exists():
            for path in self.index_dir.iterdir():
                m = _VERSION_DIR.fullmatch(path.name)
                if m and path.is_dir():
                    found[int(m.group(1))] = path
        return found

    def build(self, corpus: Corpus, progress: Progress | None = None) -> IndexInfo:
        """Write `v{n+1}` beside the live version, then switch CURRENT to it and prune."""
        return self._new_version(lambda path, number, live: _write_version(path, number, corpus, progress))

    def update(self, base: int, corpus: Corpus, changes: Changes, progress: Progress | None = None) -> IndexInfo:
        """Copy version `base` into `v{n+1}` and apply `changes` there (`_apply_changes`), then
        switch exactly as `build` does; when `base` is not the live version, build from `corpus`."""

        def write(path: Path, number: int, live: str | None) -> None:
            if live != f"v{base}" or not _readable(self.index_dir / live):
                _write_version(path, number, corpus, progress)
            else:
                _apply_changes(self.index_dir / live, path, number, corpus, changes, progress)

        return self._new_version(write)

    def _new_version(self, write: Callable[[Path, int, str | None], None]) -> IndexInfo:
        """`write(path, number, live)` the next version beside the live one, switch CURRENT to it, prune.

        Half-built directories left by a crash are removed first; if `write` fails, its directory
        is removed and CURRENT still names the version that was serving.
        """
        with self._build_lock():
            live = self._live_name()
            versions = self._versions()
            for number, path in versions.items():
                if not (path / "manifest.json").exists() and path.name != live:
                    shutil.rmtree(path, ignore_errors=True)
            number = max(versions, default=0) + 1
            path = self.index_dir / f"v{number}"
            path.mkdir()
            try:
                write(path, number, live)
            except BaseException:
                shutil.rmtree(path, ignore_errors=True)
                raise
            self._switch(path.name)
            for other, old in self._versions().items():
                if old.name not in (path.name, live):
                    shutil.rmtree(old, ignore_errors=True)
        info = self.info()
        assert info is not None
        return info

    def rollback(self) -> IndexInfo:
        """Make the newest complete version older than the live one live again."""
        with self._build_lock():
            live = self._live_name()
            if live is None:
                raise NotFound("no index has been built yet")
            current = int(live[1:])
            older = [n for n, p in self._versions().items() if n < current and _readable(p)]
            if not older:
                raise NotFound("no previous index version to roll back to")
            self._switch(f"v{max(older)}")
        info = self.info()
        assert info is not None
        return info

    def _switch(self, name: str) -> None:
        tmp = self.index_dir / f"CURRENT.{os.getpid()}.tmp"
        with open(tmp, "w") as handle:
            handle.write(name + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self._current_file)
        _fsync_dir(self.index_dir)

    # -- works -------------------------------------------------------------------------------

    def keyword_works(self, text: str, filters: WorkFilters, limit: int) -> list[tuple[str, float]]:
        if limit <= 0:
            return []
        where, params = _filter_sql(filters)
        weights = ", ".join(str(w) for w in BM25_WEIGHTS)
        sql = (
            f"SELECT w.id, bm25(works_fts, {weights}) AS r FROM works_fts JOIN works w ON w.rowid = works_fts.rowid "
            f"WHERE works_fts MATCH ?{where} ORDER BY r, w.id LIMIT ?"
        )
        found: dict[str, float] = {}
        with self._read() as (version, conn):
            for match in _matches(conn, version, text):  # works matching every term come first
                floor = min(found.values(), default=float("inf"))
                for wid, r in conn.execute(sql, [match, *params, limit + len(found)]):
                    if wid not in found and len(found) < limit:
                        found[wid] = min(-r, floor)  # scores never rise down the list
        return list(found.items())

    def browse_works(self, filters: WorkFilters, limit: int) -> list[str]:
        if limit <= 0:
            return []
        where, params = _filter_sql(filters)
        sql = f"SELECT w.id FROM works w WHERE 1{where} ORDER BY w.year IS NULL, w.year DESC, w.cited_by_count DESC, w.id LIMIT ?"
        with self._read() as (_, conn):
            return [wid for (wid,) in conn.execute(sql, [*params, limit])]

    def keyword_and_vector_works(
        self, text: str, vector: Sequence[float], filters: WorkFilters, limit: int
    ) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        return self.keyword_works(text, filters, limit), self.vector_works(vector, filters, limit)

    def vector_works(self, vector: Sequence[float], filters: WorkFilters, limit: int) -> list[tuple[str, float]]:
        with self._read() as (version, conn):
            query = _query_vector(vector, version.dimension)
            allowed = None
            if not filters.is_empty():
                where, params = _filter_sql(filters)
                allowed = np.fromiter((r for (r,) in conn.execute(f"SELECT w.rowid FROM works w WHERE 1{where}", params)), dtype=np.int64)
            top = _scored(version.works, query, allowed, limit)
            return _ids_for(conn, "works", top)

    def work_facets(
        self, text: str | None, extra_ids: Sequence[str], filters: WorkFilters, all_works: bool = False
    ) -> tuple[int, dict[str, list[FacetValue]]]:
        where, params = _filter_sql(filters)
        with self._read() as (version, conn):
            parts = []
            if all_works:
                if where:
                    parts.append(_rowids(conn, f"SELECT w.rowid FROM works w WHERE 1{where}", params))
                else:
                    parts.append(np.arange(version.works.shape[0], dtype=np.int64))
            else:
                for match in _matches(conn, version, text):
                    if where:
                        sql = f"SELECT w.rowid FROM works_fts JOIN works w ON w.rowid = works_fts.rowid WHERE works_fts MATCH ?{where}"
                        parts.append(_rowids(conn, sql, [match, *params]))
                    else:
                        parts.append(_rowids(conn, "SELECT rowid FROM works_fts WHERE works_fts MATCH ?", [match]))
                extra = list(_rows_for(conn, "works", extra_ids).values())
                if extra and where:
                    sql = f"SELECT w.rowid FROM works w WHERE w.rowid IN ({_marks(extra)}){where}"
                    parts.append(_rowids(conn, sql, [*extra, *params]))
                elif extra:
                    parts.append(np.asarray(extra, dtype=np.int64))
            rows = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
            return int(len(rows)), _count_facets(conn, version, rows)

    def highlight_works(self, text: str, ids: Sequence[str]) -> dict[str, dict[str, str]]:
        terms = T.query_terms(text or "")
        if not terms or not ids:
            return {}
        ids = list(dict.fromkeys(ids))
        out: dict[str, dict[str, str]] = {}
        with self._read() as (_, conn):
            rows = dict(conn.execute(f"SELECT rowid, id FROM works WHERE id IN ({_marks(ids)})", ids))
            if not rows:
                return {}
            sql = (
                f"SELECT rowid, highlight(works_fts, 0, ?, ?), snippet(works_fts, 1, ?, ?, '…', 32) FROM works_fts "
                f"WHERE works_fts MATCH ? AND rowid IN ({_marks(list(rows))})"
            )
            marks = [T.MARK_OPEN, T.MARK_CLOSE] * 2
            for rowid, title, abstract in conn.execute(sql, [*marks, T.fts5_query(terms), *rows]):
                found = {"title": T.mark(title or "")}
                if abstract and T.MARK_OPEN in abstract:
                    found["abstract"] = T.mark(abstract)
                out[rows[rowid]] = found
        return out

    def get_works(self, ids: Sequence[str]) -> list[WorkDoc]:
        ids = list(ids)
        if not ids:
            return []
        found: dict[str, WorkDoc] = {}
        with self._read() as (_, conn):
            for start in range(0, len(ids), 900):
                chunk = ids[start : start + 900]
                sql = (
                    "SELECT w.id, t.title, t.abstract, w.venue, w.year, w.type, w.cited_by_count, t.doc "
                    f"FROM works w JOIN work_texts t ON t.rowid = w.rowid WHERE w.id IN ({_marks(chunk)})"
                )
                for wid, *columns, doc in conn.execute(sql, chunk):
                    found[wid] = work_from_dict({**json.loads(doc), "id": wid, **dict(zip(_WORK_COLUMNS, columns))})
        return [found[i] for i in ids if i in found]

    def work_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        with self._read() as (version, conn):
            return {i: version.works[row].tolist() for i, row in _rows_for(conn, "works", ids).items()}

    def topic_works(self, topic_id: str, sort: Literal["recent", "cited"], limit: int) -> list[WorkDoc]:
        order = "w.year IS NULL, w.year DESC, w.cited_by_count DESC" if sort == "recent" else "w.cited_by_count DESC, w.year IS NULL, w.year DESC"
        sql = f"SELECT w.id FROM work_topics t JOIN works w ON w.rowid = t.work WHERE t.topic = ? ORDER BY {order}, w.id LIMIT ?"
        with self._read() as (_, conn):
            ids = [wid for (wid,) in conn.execute(sql, (topic_id, max(0, limit)))]
        return self.get_works(ids)

    def works_per_year(self, topic_id: str) -> dict[int, int]:
        sql = (
            "SELECT w.year, COUNT(*) FROM work_topics t JOIN works w ON w.rowid = t.work "
            "WHERE t.topic = ? AND w.year IS NOT NULL GROUP BY w.year ORDER BY w.year"
        )
        with self._read() as (_, conn):
            return {int(y): int(c) for y, c in conn.execute(sql, (topic_id,))}

    # -- researchers -------------------------------------------------------------------------

    def name_researchers(self, text: str, limit: int) -> list[tuple[str, float]]:
        """Exact name keys first (an index lookup, most works first); only a name no key knows
        (a typo, part of a name) pays for trigram candidates re-ranked by `name_similarity`."""
        norm = T.normalize_name(text or "")
        if not norm or limit <= 0:
            return []
        keys = T.query_name_keys(text)
        with self._read() as (_, conn):
            exact = conn.execute(
                "SELECT r.id FROM researchers r WHERE r.id IN "
                f"(SELECT researcher FROM name_keys WHERE key IN ({_marks(keys)})) "
                "ORDER BY json_extract(r.doc, '$.works_count') DESC, r.id LIMIT ?",
                [*keys, limit],
            ).fetchall()
            if exact:
                return [(rid, 1.0) for (rid,) in exact]
            grams = sorted({form[i : i + 3] for form in T.name_forms(norm) for i in range(len(form) - 2)})
            if not grams:
                return []
            sql = "SELECT researcher, form FROM names WHERE names MATCH ? ORDER BY rank LIMIT ?"
            found = conn.execute(sql, (T.fts5_query(grams), NAME_CANDIDATES)).fetchall()
        best: dict[str, float] = {}
        for rid, form in found:
            best[rid] = max(best.get(rid, 0.0), T.name_similarity(norm, form))
        scored = sorted(best.items(), key=lambda item: (-item[1], item[0]))
        return scored[:limit]

    def researcher_by_identifier(self, kind: str, value: str) -> str | None:
        canonical = T.normalize_identifier(kind, value)
        if canonical is None:
            return None
        with self._read() as (_, conn):
            # Sources occasionally give one identifier to two people; the one with more works wins.
            row = conn.execute(
                "SELECT i.researcher FROM researcher_ids i JOIN researchers r ON r.id = i.researcher "
                "WHERE i.kind = ? AND i.value = ? ORDER BY json_extract(r.doc, '$.works_count') DESC, r.id LIMIT 1",
                (kind, canonical),
            ).fetchone()
        return row[0] if row else None

    def vector_researchers(
        self,
        vector: Sequence[float],
        limit: int,
        exclude: Sequence[str] = (),
        active_since: int | None = None,
        institution: str | None = None,
    ) -> list[tuple[str, float]]:
        with self._read() as (version, conn):
            query = _query_vector(vector, version.dimension)
            clauses, params = [], []
            if active_since is not None:
                clauses.append("r.last_year >= ?")
                params.append(int(active_since))
            if institution and T.normalize_name(institution):
                clauses.append("r.rowid IN (SELECT researcher FROM researcher_institutions WHERE name LIKE ?)")
                params.append(f"%{T.normalize_name(institution)}%")
            has_vector = version.researcher_has_vector()
            allowed = None
            if clauses:
                sql = f"SELECT r.rowid FROM researchers r WHERE {' AND '.join(clauses)}"
                allowed = np.fromiter((r for (r,) in conn.execute(sql, params)), dtype=np.int64)
                allowed = allowed[has_vector[allowed]]
            excluded = np.fromiter(_rows_for(conn, "researchers", exclude).values(), dtype=np.int64)
            index = version.researcher_ann()
            top = ann.search(index, version.researchers, query, limit, allowed, excluded) if index is not None else None
            if top is None:  # exact: a small version, or a filter the visited lists hold too few of
                allowed = np.flatnonzero(has_vector) if allowed is None else allowed
                top = _scored(version.researchers, query, np.setdiff1d(allowed, excluded, assume_unique=True), limit)
            return _ids_for(conn, "researchers", top)

    def get_researchers(self, ids: Sequence[str]) -> list[ResearcherDoc]:
        docs = self._docs("researchers", ids, "json_remove(doc, '$.coauthors')")  # read by researcher_coauthors
        return [researcher_from_dict(docs[i]) for i in ids if i in docs]

    def researcher_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        with self._read() as (version, conn):
            rows = _rows_for(conn, "researchers", ids)
            return {i: version.researchers[r].tolist() for i, r in rows.items() if np.any(version.researchers[r])}

    def researcher_cosines(self, vector: Sequence[float], ids: Sequence[str]) -> dict[str, float]:
        with self._read() as (version, conn):
            rows = _rows_for(conn, "researchers", ids)
            if not rows:
                return {}
            _query_vector(vector, version.dimension)  # checked; scored as given, one row at a time, so
            query = np.asarray(vector, dtype=np.float32)  # equal vectors score equal (and tie, ordered by id)
            matrix = version.researchers[np.fromiter(rows.values(), dtype=np.int64, count=len(rows))]
            return {i: float(row @ query) for i, row, has in zip(rows, matrix, np.any(matrix, axis=1)) if has}

    def researcher_coauthors(self, ids: Sequence[str]) -> dict[str, CoauthorList]:
        ids = list(ids)
        found: dict[str, CoauthorList] = {}
        with self._read() as (_, conn):
            for chunk in _chunks(ids):
                sql = ("SELECT id, json_extract(doc, '$.coauthors'), json_extract(doc, '$.large_works'), "
                       f"json_extract(doc, '$.coauthors_count') FROM researchers WHERE id IN ({_marks(chunk)})")
                for i, joint, large, count in conn.execute(sql, chunk):
                    found[i] = CoauthorList(json.loads(joint or "{}"), json.loads(large or "[]"), count or 0)
        return found

    def topic_researchers(self, topic_id: str, limit: int) -> list[tuple[str, int]]:
        sql = (
            "SELECT a.researcher, COUNT(DISTINCT a.work) AS c FROM work_topics t JOIN work_authors a ON a.work = t.work "
            "WHERE t.topic = ? GROUP BY a.researcher ORDER BY c DESC, a.researcher LIMIT ?"
        )
        with self._read() as (_, conn):
            return [(r, int(c)) for r, c in conn.execute(sql, (topic_id, max(0, limit)))]

    # -- topics ------------------------------------------------------------------------------

    def keyword_topics(self, text: str, limit: int) -> list[tuple[str, float]]:
        terms = T.query_terms(text or "")
        if not terms or limit <= 0:
            return []
        sql = (
            "SELECT t.id, bm25(topics_fts, 10.0, 1.0) AS r FROM topics_fts JOIN topics t ON t.rowid = topics_fts.rowid "
            "WHERE topics_fts MATCH ? ORDER BY r, t.id LIMIT ?"
        )
        with self._read() as (_, conn):
            return [(tid, -r) for tid, r in conn.execute(sql, (T.fts5_query(terms), limit))]

    def vector_topics(self, vector: Sequence[float], limit: int) -> list[tuple[str, float]]:
        with self._read() as (version, conn):
            top = _scored(version.topics, _query_vector(vector, version.dimension), None, limit)
            return _ids_for(conn, "topics", top)

    def get_topics(self, ids: Sequence[str]) -> list[TopicDoc]:
        docs = self._docs("topics", ids)
        return [topic_from_dict(docs[i]) for i in ids if i in docs]

    def topic_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        with self._read() as (version, conn):
            rows = _rows_for(conn, "topics", ids)
            return {i: version.topics[r].tolist() for i, r in rows.items() if np.any(version.topics[r])}

    def _docs(self, table: str, ids: Sequence[str], column: str = "doc") -> dict[str, dict]:
        ids = list(ids)
        found: dict[str, dict] = {}
        with self._read() as (_, conn):
            for start in range(0, len(ids), 900):
                chunk = ids[start : start + 900]
                for i, doc in conn.execute(f"SELECT id, {column} FROM {table} WHERE id IN ({_marks(chunk)})", chunk):
                    found[i] = json.loads(doc)
        return found

    def word_suggestions(self, words: Sequence[str]) -> dict[str, tuple[str, int]]:
        out: dict[str, tuple[str, int]] = {}
        with self._read() as (_, conn):
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'spelling_words'").fetchone():
                return out  # a version built before the spelling vocabulary existed: rebuilt, it has one
            for word in dict.fromkeys(words):
                if not spellable(word):
                    continue
                own = conn.execute("SELECT works FROM spelling_words WHERE word = ?", (word,)).fetchone()
                neighbours = conn.execute(  # same first letter, lengths within the edit budget
                    "SELECT word, works FROM spelling_words WHERE word >= ? AND word < ? AND length(word) BETWEEN ? AND ?",
                    (word[0], word[0] + "\U0010ffff", len(word) - SPELLING_EDITS, len(word) + SPELLING_EDITS),
                )
                best = best_suggestion(word, own[0] if own else 0, neighbours)
                if best:
                    out[word] = best
        return out


def _matches(conn: sqlite3.Connection, version: _Version, text: str | None) -> list[str]:
    """The FTS5 expressions for user text, best first: the planned one (`_match`) and, when it ANDs
    common terms that few works hold together (RELAX_BELOW), the works missing one of them."""
    match = _match(conn, version, text)
    if match is None:
        return []
    terms = T.query_terms(text or "")
    if len(terms) < 2 or match != T.fts5_query(terms, operator="AND"):
        return [_in_matched_columns(match)]
    match = _in_matched_columns(match)
    (together,) = conn.execute("SELECT count(*) FROM works_fts WHERE works_fts MATCH ?", [match]).fetchone()
    return [match, _in_matched_columns(all_but_one(terms))] if together < RELAX_BELOW else [match]


def _in_matched_columns(match: str) -> str:
    """`match` limited to MATCHED_COLUMNS (an FTS5 column filter)."""
    return f"{{{' '.join(MATCHED_COLUMNS)}}} : ({match})"


def all_but_one(terms: list[str]) -> str:
    """An FTS5 expression for works holding all of `terms` but (at most) one: ORed ANDs of n-1 terms."""
    if len(terms) == 2:
        return T.fts5_query(terms)
    return " OR ".join(f"({T.fts5_query(terms[:i] + terms[i + 1 :], operator='AND')})" for i in range(len(terms)))


def _match(conn: sqlite3.Connection, version: _Version, text: str | None) -> str | None:
    """The FTS5 expression for user text: quoted terms, pruned as described at POSTINGS_BUDGET."""
    terms = T.query_terms(text or "")
    if not terms:
        return None
    pruning = version.manifest["pruning"]
    stems = {t: T.stem(t) for t in terms}  # term_docs holds the index's (stemmed) terms
    docs = dict(conn.execute(f"SELECT term, docs FROM term_docs WHERE term IN ({_marks(terms)})", list(stems.values())))
    # A term missing from term_docs is in fewer than TERM_DOCS_FLOOR works: cheap, and the rare terms
    # carry a pasted text's meaning, so it costs nothing against the budget and is always kept.
    return plan_match(terms, {t: docs.get(stems[t], 0) for t in terms}, pruning["common"], pruning["budget"])


def plan_match(terms: list[str], docs: dict[str, int], common: int, budget: int) -> str:
    """Rarest terms first, while their documents fit `budget`; all terms ANDed if even the rarest is common."""
    order = sorted(terms, key=lambda t: (docs[t], terms.index(t)))
    if docs[order[0]] > common:
        return T.fts5_query(terms, operator="AND")
    kept, total = set(), 0
    for term in order:
        if kept and (docs[term] > common or total + docs[term] > budget):
            break
        kept.add(term)
        total += docs[term]
    return T.fts5_query([t for t in terms if t in kept])


# -- vector helpers ------------------------------------------------------------------------------


def _query_vector(vector: Sequence[float], dimension: int) -> np.ndarray:
    query = np.asarray(vector, dtype=np.float32).reshape(-1)
    if query.shape[0] != dimension:
        raise BadQuery(f"query vector has {query.shape[0]} dimensions, the index {dimension}")
    if not np.all(np.isfinite(query)):
        raise BadQuery("query vector is not finite")
    norm = float(np.linalg.norm(query))
    return query / norm if norm else query


def _scored(matrix: np.ndarray, query: np.ndarray, allowed: np.ndarray | None, limit: int) -> list[tuple[int, float]]:
    """Exact cosine over unit rows; `allowed` restricts rows *before* the top-k is taken.

    A small allowed set is gathered and scored alone; a large one scores everything and masks,
    which avoids copying most of a memory-mapped matrix.
    """
    if allowed is None:
        return _top(matrix @ query, np.arange(matrix.shape[0]), limit)
    if len(allowed) == 0:
        return []
    if len(allowed) * 4 < matrix.shape[0]:
        return _top(matrix[np.sort(allowed)] @ query, np.sort(allowed), limit)
    scores = np.full(matrix.shape[0], -np.inf, dtype=np.float32)
    scores[allowed] = (matrix @ query)[allowed]
    return _top(scores, np.arange(matrix.shape[0]), min(limit, len(allowed)))


def _rows_for(conn: sqlite3.Connection, table: str, ids: Sequence[str]) -> dict[str, int]:
    ids = list(dict.fromkeys(ids))
    found: dict[str, int] = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        found.update(conn.execute(f"SELECT id, rowid FROM {table} WHERE id IN ({_marks(chunk)})", chunk))
    return found


def _ids_for(conn: sqlite3.Connection, table: str, scored: list[tuple[int, float]]) -> list[tuple[str, float]]:
    if not scored:
        return []
    rows = [r for r, _ in scored]
    ids = dict(conn.execute(f"SELECT rowid, id FROM {table} WHERE rowid IN ({_marks(rows)})", rows))
    return sorted(((ids[r], s) for r, s in scored if r in ids), key=lambda pair: (-pair[1], pair[0]))


# -- writing one version -------------------------------------------------------------------------


def _unit_row(vector: Sequence[float] | None, dimension: int, what: str) -> np.ndarray:
    """A document's vector as the float32 unit row the matrix stores (zeros: no vector)."""
    if vector is None:
        return np.zeros(dimension, dtype=np.float32)
    row = np.asarray(vector, dtype=np.float32).reshape(-1)
    if row.shape[0] != dimension:
        raise ValueError(f"{what}: vector has {row.shape[0]} dimensions, expected {dimension}")
    norm = float(np.linalg.norm(row))
    return (row / norm).astype(np.float32) if norm and np.isfinite(norm) else np.zeros(dimension, dtype=np.float32)


class _VectorFile:
    """Streams unit float32 rows straight into an .npy that loads memory-mapped: its header is
    written first for no rows and rewritten in place for all of them at the end (numpy pads the
    header so that the row count can grow without moving the data: `np.lib.format`'s growth axis).
    The bytes are those `np.save` writes. Copying from a raw file through two memory maps instead
    put both files' pages in the build's resident memory: at 1M works, two copies of the
    researchers' matrix (about 5.7 GB each)."""

    def __init__(self, path: Path, dimension: int):
        self.path, self.dimension, self.rows = path, dimension, 0
        self.handle = open(path, "wb")
        self._header()

    def _header(self) -> None:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False,
                  "shape": (self.rows, self.dimension)}
        np.lib.format.write_array_header_1_0(self.handle, header)

    def add(self, vector: Sequence[float] | None, what: str) -> None:
        self.handle.write(_unit_row(vector, self.dimension, what).tobytes())
        self.rows += 1

    def finish(self) -> None:
        self.handle.seek(0)
        self._header()
        self.handle.close()
        _fsync_file(self.path)


class _FacetWriter:
    """Per-work facet codes, in row order: what `_count_facets` counts with numpy."""

    def __init__(self, values: dict[str, list[str]] | None = None):
        """`values`: the codes of a previous version (`values.json`), kept so its columns stay valid."""
        self.codes: dict[str, dict[str, int]] = {
            field: {v: i for i, v in enumerate((values or {}).get(field, []))} for field in ("type", "venue", "topic")
        }
        self.columns: dict[str, array] = {"year": array("i"), "type": array("i"), "venue": array("i"), "topic": array("i")}
        self.topic_start = array("q", [0])

    def _code(self, field: str, value: str | None) -> int:
        if not value:
            return -1
        return self.codes[field].setdefault(value, len(self.codes[field]))

    def codes_of(self, doc: WorkDoc) -> tuple[int, int, int, list[int]]:
        """(year, type, venue, sorted topic codes) of one work."""
        topics = sorted({self._code("topic", t.id) for t in doc.topics})
        return (doc.year if doc.year is not None else _NO_YEAR, self._code("type", doc.type),
                self._code("venue", doc.venue), topics)

    def add(self, doc: WorkDoc) -> None:
        year, type_, venue, topics = self.codes_of(doc)
        self.columns["year"].append(year)
        self.columns["type"].append(type_)
        self.columns["venue"].append(venue)
        self.columns["topic"].extend(topics)
        self.topic_start.append(len(self.columns["topic"]))

    def finish(self, path: Path) -> None:
        columns = {name: np.frombuffer(column, dtype=np.int32) for name, column in self.columns.items()}
        self.save(path, {**columns, "topic_start": np.frombuffer(self.topic_start, dtype=np.int64)})

    def save(self, path: Path, columns: dict[str, np.ndarray]) -> None:
        path.mkdir(exist_ok=True)
        for name, column in columns.items():
            np.save(path / f"{name}.npy", column)
            _fsync_file(path / f"{name}.npy")
        values = {field: sorted(codes, key=codes.__getitem__) for field, codes in self.codes.items()}
        (path / "values.json").write_text(json.dumps(values, ensure_ascii=False))
        _fsync_file(path / "values.json")


def _write_version(path: Path, number: int, corpus: Corpus, progress: Progress | None) -> None:
    db = sqlite3.connect(path / "index.sqlite", isolation_level=None)
    try:
        db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA page_size=8192;")
        db.executescript(SCHEMA)
        db.execute("BEGIN")
        counts = {
            "works": _write_works(db, path, corpus, progress),
            "researchers": _write_researchers(db, path, corpus, progress),
            "topics": _write_topics(db, path, corpus, progress),
        }
        if progress:
            progress("index text", 0, 1)
        db.execute("INSERT INTO works_fts(works_fts) VALUES ('rebuild')")
        db.execute("INSERT INTO topics_fts(topics_fts) VALUES ('rebuild')")
        db.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, 'works_fts', 'row')")
        db.execute("INSERT INTO term_docs SELECT term, doc FROM temp.vocab WHERE doc > ?", (TERM_DOCS_FLOOR,))
        _write_spelling_words(db)
        for statement in filter(str.strip, INDEXES.split(";")):
            db.execute(statement)
        db.execute("COMMIT")
        db.execute("INSERT INTO works_fts(works_fts) VALUES ('optimize')")
        db.execute("INSERT INTO names(names) VALUES ('optimize')")
        db.execute("ANALYZE")
        if progress:
            progress("index text", 1, 1)
    finally:
        db.close()
    _save_ann(path, ann.build(np.load(path / "researchers.npy", mmap_mode="r")))
    _write_manifest(path, number, corpus, counts)


def _save_ann(path: Path, index: object) -> None:
    ann.save(index, path)
    if index is not None:
        _fsync_file(path / ann.FILE)


def _write_manifest(path: Path, number: int, corpus: Corpus, counts: dict[str, int], applied: dict | None = None) -> None:
    """Written last: the version is complete once its manifest exists. `applied`: what an update
    wrote into the copy of its base version, per kind (absent after a build)."""
    _fsync_file(path / "index.sqlite")
    manifest = {
        "format": FORMAT,
        "version": number,
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": corpus.model,
        "dimension": corpus.dimension,
        "counts": counts,
        "pruning": {
            "common": max(COMMON_MIN_DOCS, int(counts["works"] * COMMON_RATIO)),
            "budget": POSTINGS_BUDGET,
        },
        "meta": json.loads(json.dumps(corpus.meta, default=str)),
        **({"applied": applied} if applied is not None else {}),
    }
    tmp = path / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2))
    _fsync_file(tmp)
    os.replace(tmp, path / "manifest.json")
    _fsync_dir(path)


def _write_works(db: sqlite3.Connection, path: Path, corpus: Corpus, progress: Progress | None) -> int:
    vectors = _VectorFile(path / "works.npy", corpus.dimension)
    total = corpus.counts.get("works", 0)
    seen: set[str] = set()
    rows: list[tuple[int, WorkDoc]] = []
    facets = _FacetWriter()

    def flush() -> None:
        _insert_works(db, rows)
        rows.clear()

    for doc in corpus.works():
        if doc.id in seen:
            raise ValueError(f"work {doc.id} appears twice in the corpus")
        seen.add(doc.id)
        rows.append((len(seen) - 1, doc))
        vectors.add(doc.vector, f"work {doc.id}")
        facets.add(doc)
        if len(rows) >= 2000:
            flush()
            if progress:
                progress("index works", len(seen), max(total, len(seen)))
    flush()
    vectors.finish()
    facets.finish(path / "facets")
    if progress:
        progress("index works", len(seen), len(seen))
    return len(seen)


def _insert_works(db: sqlite3.Connection, rows: list[tuple[int, WorkDoc]]) -> None:
    """Works at their rows: the narrow row, the texts FTS5 indexes (not the FTS5 index itself),
    topics and authors."""
    narrow, texts, topics, authors = [], [], [], []
    for row, doc in rows:
        rest = {k: v for k, v in doc_fields(doc).items() if k not in ("id", *_WORK_COLUMNS)}
        narrow.append((row, doc.id, doc.year, doc.type, doc.venue, int(doc.cited_by_count or 0)))
        texts.append((
            row, T.clean_indexed(doc.title), T.clean_indexed(doc.abstract) or None,
            T.clean_indexed(" ; ".join(a.name for a in doc.authors)), doc.venue,
            T.clean_indexed(" ; ".join(doc.keywords)), T.clean_indexed(" ; ".join(t.label for t in doc.topics)),
            doc_json(rest, ensure_ascii=False),
        ))
        topics.extend((row, t.id) for t in {t.id: t for t in doc.topics}.values())
        authors.extend((row, rid) for rid in dict.fromkeys(doc.researcher_ids))
    db.executemany("INSERT INTO works VALUES (?, ?, ?, ?, ?, ?)", narrow)
    db.executemany("INSERT INTO work_texts VALUES (?, ?, ?, ?, ?, ?, ?, ?)", texts)
    db.executemany("INSERT INTO work_topics VALUES (?, ?)", topics)
    db.executemany("INSERT INTO work_authors VALUES (?, ?)", authors)


def _write_researchers(db: sqlite3.Connection, path: Path, corpus: Corpus, progress: Progress | None) -> int:
    vectors = _VectorFile(path / "researchers.npy", corpus.dimension)
    count = 0
    rows: list[tuple[int, ResearcherDoc]] = []
    for row, doc in enumerate(corpus.researchers()):
        rows.append((row, doc))
        vectors.add(doc.vector, f"researcher {doc.id}")
        count = row + 1
        if len(rows) >= 2000:
            _insert_researchers(db, rows)
            rows.clear()
        if progress and count % 5000 == 0:
            progress("index researchers", count, max(corpus.counts.get("researchers", 0), count))
    _insert_researchers(db, rows)
    vectors.finish()
    return count


def _lookups(doc: ResearcherDoc) -> tuple[list[tuple[str, str]], list[str], list[str], list[str]]:
    """What a researcher adds to the lookup tables: (kind, canonical identifier) pairs, institution
    names, name keys and trigram name forms (an update deletes exactly these)."""
    identifiers = [(kind, c) for kind, value in doc.identifiers.items() if (c := T.normalize_identifier(kind, value))]
    institutions = [n for i in doc.institutions if (n := T.normalize_name(i.name))]
    norms = {T.normalize_name(n) for n in [doc.name, *doc.name_variants]} - {""}
    keys = sorted({key for n in norms for key in T.name_keys(n)})
    forms = sorted({form for n in norms for form in T.name_forms(n)})
    return identifiers, institutions, keys, forms


def _insert_researchers(db: sqlite3.Connection, rows: list[tuple[int, ResearcherDoc]]) -> None:
    """Researchers at their rows, with their lookup rows: one statement per table for all of `rows`
    (each table gets its rows in the same order as one researcher at a time would give it)."""
    researchers, ids, institutions, keys, forms = [], [], [], [], []
    for row, doc in rows:
        researchers.append((row, doc.id, doc.name, doc.first_year, doc.last_year, doc_json(doc_fields(doc), ensure_ascii=False)))
        its_ids, its_institutions, its_keys, its_forms = _lookups(doc)
        ids.extend((kind, value, doc.id) for kind, value in its_ids)
        institutions.extend((row, name) for name in its_institutions)
        keys.extend((key, doc.id) for key in its_keys)
        forms.extend((form, doc.id) for form in its_forms)
    db.executemany("INSERT INTO researchers VALUES (?, ?, ?, ?, ?, ?)", researchers)
    db.executemany("INSERT INTO researcher_ids VALUES (?, ?, ?)", ids)
    db.executemany("INSERT INTO researcher_institutions VALUES (?, ?)", institutions)
    db.executemany("INSERT INTO name_keys VALUES (?, ?)", keys)
    db.executemany("INSERT INTO names VALUES (?, ?)", forms)


def _insert_topic(db: sqlite3.Connection, row: int, doc: TopicDoc) -> None:
    db.execute(
        "INSERT INTO topics VALUES (?, ?, ?, ?, ?)",
        (row, doc.id, T.clean_indexed(doc.label), T.clean_indexed(doc.description), doc_json(doc_fields(doc), ensure_ascii=False)),
    )


def _write_topics(db: sqlite3.Connection, path: Path, corpus: Corpus, progress: Progress | None) -> int:
    vectors = _VectorFile(path / "topics.npy", corpus.dimension)
    count = 0
    for row, doc in enumerate(corpus.topics()):
        _insert_topic(db, row, doc)
        vectors.add(doc.vector, f"topic {doc.id}")
        count = row + 1
    vectors.finish()
    if progress:
        progress("index topics", count, count)
    return count


# -- the next version from the previous one -----------------------------------------------------

_TEXT_COLUMNS = ("title", "abstract", "authors", "venue", "keywords", "topics")
_KIND_TABLES = {"works": "works", "researchers": "researchers", "topics": "topics"}


def _apply_changes(base: Path, path: Path, number: int, corpus: Corpus, changes: Changes, progress: Progress | None) -> None:
    """Version `number` as a copy of version `base` with `changes` applied: removed and changed
    documents are deleted (FTS5 told the old text, so its BM25 statistics follow), changed and added
    ones inserted, rows kept dense (added documents fill freed rows first; when more were removed,
    the last rows move into the holes), matrix rows and facet columns rewritten only where a
    document was, the spelling vocabulary and `term_docs` adjusted by the words of the documents
    that left and came. Every other row keeps its rowid and bytes. The documents written are the
    indexer's (`changes.docs`); only those it did not keep (rows moved into holes, a large change)
    are made again from `corpus` (by id, with `Corpus.make`)."""
    shutil.copyfile(base / "index.sqlite", path / "index.sqlite")
    sources = {"works": corpus.works, "researchers": corpus.researchers, "topics": corpus.topics}
    applied: dict[str, dict[str, int]] = {}
    counts: dict[str, int] = {}
    db = sqlite3.connect(path / "index.sqlite", isolation_level=None)
    try:
        db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
        db.execute("BEGIN")
        for kind, table in _KIND_TABLES.items():
            delete, target, count = _plan_rows(db, table, changes.changed.get(kind, set()), changes.removed.get(kind, set()))
            docs = {i: doc for i, doc in changes.docs.get(kind, {}).items() if i in target}
            if len(docs) < len(target):  # documents moved into holes, or not kept by the indexer: made again
                wanted = target.keys() - docs.keys()
                made = corpus.make(kind, wanted) if corpus.make else (d for d in sources[kind]() if d.id in wanted)
                docs.update((doc.id, doc) for doc in made)
            missing = sorted(set(target) - set(docs))
            if missing:
                raise ValueError(f"{kind} {missing[0]} is to be written but not in the corpus")
            rows = sorted(((target[i], docs[i]) for i in docs), key=lambda pair: pair[0])
            _apply_vectors(base / f"{kind}.npy", path / f"{kind}.npy", count, rows, corpus.dimension, kind)
            if kind == "works":
                _apply_works(db, delete, rows)
                _apply_facets(base / "facets", path / "facets", count, rows)
            elif kind == "researchers":
                _apply_researchers(db, delete, rows)
                matrix = np.load(path / "researchers.npy", mmap_mode="r")
                old_count = np.load(base / "researchers.npy", mmap_mode="r").shape[0]
                rewritten = np.array([row for row, _ in rows], dtype=np.int64)
                _save_ann(path, ann.updated(ann.load(base), matrix, rewritten, old_count))
            else:
                _apply_topics(db, delete, rows)
            counts[kind] = count
            moved = len(target) - len(changes.changed.get(kind, set()))
            applied[kind] = {"changed": len(target) - moved, "removed": len(changes.removed.get(kind, set())), "moved": moved}
            if progress:
                progress(f"index {kind}", len(target), len(target))
        db.execute("COMMIT")
    finally:
        db.close()
    _write_manifest(path, number, corpus, counts, applied)


def _plan_rows(db: sqlite3.Connection, table: str, changed: set[str], removed: set[str]) -> tuple[list[int], dict[str, int], int]:
    """(rows to delete, the row each document to write goes to, the new row count). Rows stay
    0..count-1, as matrices and facet columns index them: added documents take freed rows first,
    then new rows at the end; holes left when more were removed than added take the last rows'
    documents (which are then written again, from the corpus)."""
    (old_count,) = db.execute(f"SELECT count(*) FROM {table}").fetchone()
    existing = _rows_for(db, table, [*changed, *removed])
    freed = sorted(existing[i] for i in removed if i in existing)
    target = {i: existing[i] for i in changed if i in existing}
    added = sorted(i for i in changed if i not in existing)
    count = old_count - len(freed) + len(added)
    holes = iter(freed + list(range(old_count, count)))
    for i in added:
        target[i] = next(holes)
    left = [row for row in holes if row < count]
    moved = []
    if left:  # the documents at rows >= count move down into the holes
        moved = [(i, r) for i, r in db.execute(f"SELECT id, rowid FROM {table} WHERE rowid >= ? ORDER BY rowid", (count,))
                 if i not in removed]
        assert len(moved) == len(left), (len(moved), len(left))
        for (i, _), hole in zip(moved, left):
            target[i] = hole
    delete = set(freed) | {existing[i] for i in target if i in existing} | {row for _, row in moved}
    return sorted(delete), target, count


def _apply_vectors(base: Path, path: Path, count: int, rows: list[tuple[int, object]], dimension: int, kind: str) -> None:
    """The base matrix cut or extended to `count` rows, with the rows of `rows` rewritten. The kept
    rows are copied as bytes by the kernel and only the rewritten rows are mapped, where a copy
    through two memory maps put both whole files in the process's resident memory; the bytes are
    the same."""
    old = np.load(base, mmap_mode="r")
    data_start, keep = old.offset, min(count, old.shape[0])
    del old
    vectors = _VectorFile(path, dimension)
    vectors.rows, row_bytes = count, dimension * 4
    vectors.handle.flush()
    header = vectors.handle.tell()
    with open(base, "rb") as source:
        if hasattr(os, "copy_file_range"):  # Linux: the kernel copies, no pages pass through Python
            copied = 0
            while copied < keep * row_bytes:
                copied += os.copy_file_range(source.fileno(), vectors.handle.fileno(), keep * row_bytes - copied,
                                             data_start + copied, header + copied)
        else:  # elsewhere (macOS): the same bytes in chunks
            source.seek(data_start)
            for start in range(0, keep * row_bytes, 1 << 24):
                vectors.handle.write(source.read(min(1 << 24, keep * row_bytes - start)))
    vectors.handle.truncate(header + count * row_bytes)  # added rows: zeros until written below
    vectors.finish()
    if rows:
        matrix = np.load(path, mmap_mode="r+")
        for row, doc in rows:
            matrix[row] = _unit_row(doc.vector, dimension, f"{kind[:-1]} {doc.id}")
        matrix.flush()
        del matrix
        _fsync_file(path)


def _apply_facets(base: Path, path: Path, count: int, rows: list[tuple[int, WorkDoc]]) -> None:
    """The base facet columns cut or extended to `count` rows, with the rows of `rows` recoded."""
    writer = _FacetWriter(json.loads((base / "values.json").read_text()))
    old = {name: np.load(base / f"{name}.npy") for name in _FACET_COLUMNS}
    keep = min(count, len(old["year"]))
    columns = {name: np.full(count, _NO_YEAR if name == "year" else -1, dtype=np.int32) for name in ("year", "type", "venue")}
    lengths = np.zeros(count, dtype=np.int64)
    for name, column in columns.items():
        column[:keep] = old[name][:keep]
    lengths[:keep] = np.diff(old["topic_start"])[:keep]
    recoded = {}
    for row, doc in rows:
        columns["year"][row], columns["type"][row], columns["venue"][row], recoded[row] = writer.codes_of(doc)
        lengths[row] = len(recoded[row])
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    topic = np.empty(int(starts[-1]), dtype=np.int32)
    carried = np.ones(count, dtype=bool)
    carried[[row for row, _ in rows]] = False
    kept = np.flatnonzero(carried)
    topic[_segments(starts[kept], lengths[kept])] = old["topic"][_segments(old["topic_start"][kept], lengths[kept])]
    for row, codes in recoded.items():
        topic[starts[row] : starts[row + 1]] = codes
    writer.save(path, {**columns, "topic": topic, "topic_start": starts})


def _apply_works(db: sqlite3.Connection, delete: list[int], rows: list[tuple[int, WorkDoc]]) -> None:
    """Works out (FTS5 given each old text) and in; then the two vocabularies by their words."""
    texts = ", ".join(_TEXT_COLUMNS)
    left, came = [], []
    for chunk in _chunks(delete):
        old = db.execute(f"SELECT rowid, {texts} FROM work_texts WHERE rowid IN ({_marks(chunk)})", chunk).fetchall()
        db.executemany(f"INSERT INTO works_fts(works_fts, rowid, {texts}) VALUES ('delete', ?, {_marks(_TEXT_COLUMNS)})", old)
        left.extend(r[1:] for r in old)
        for sql in ("DELETE FROM works WHERE rowid IN ({})", "DELETE FROM work_texts WHERE rowid IN ({})",
                    "DELETE FROM work_topics WHERE work IN ({})", "DELETE FROM work_authors WHERE work IN ({})"):
            db.execute(sql.format(_marks(chunk)), chunk)
    for start in range(0, len(rows), 2000):
        part = rows[start : start + 2000]
        _insert_works(db, part)
        chunk = [row for row, _ in part]
        db.execute(f"INSERT INTO works_fts(rowid, {texts}) SELECT rowid, {texts} FROM work_texts WHERE rowid IN ({_marks(chunk)})", chunk)
        came.extend(db.execute(f"SELECT {texts} FROM work_texts WHERE rowid IN ({_marks(chunk)})", chunk))
    _apply_term_docs(db, left, came)
    _apply_spelling_words(db, left, came)


def _apply_researchers(db: sqlite3.Connection, delete: list[int], rows: list[tuple[int, ResearcherDoc]]) -> None:
    """Researchers out (their lookup rows found again from their stored documents) and in."""
    gone = set()
    for chunk in _chunks(delete):
        for rowid, doc in db.execute(f"SELECT rowid, doc FROM researchers WHERE rowid IN ({_marks(chunk)})", chunk).fetchall():
            old = researcher_from_dict(json.loads(doc))
            identifiers, _, keys, _ = _lookups(old)
            db.executemany("DELETE FROM researcher_ids WHERE kind = ? AND value = ? AND researcher = ?",
                           [(kind, value, old.id) for kind, value in identifiers])
            db.executemany("DELETE FROM name_keys WHERE key = ? AND researcher = ?", [(key, old.id) for key in keys])
            gone.add(old.id)
        db.execute(f"DELETE FROM researchers WHERE rowid IN ({_marks(chunk)})", chunk)
        db.execute(f"DELETE FROM researcher_institutions WHERE researcher IN ({_marks(chunk)})", chunk)
    if gone:  # `names` has no index on its researcher column: one pass of SQLite finds their forms
        db.execute("CREATE TEMP TABLE gone (id TEXT PRIMARY KEY)")
        db.executemany("INSERT INTO temp.gone VALUES (?)", [(rid,) for rid in gone])
        db.execute("DELETE FROM names WHERE researcher IN (SELECT id FROM temp.gone)")
        db.execute("DROP TABLE temp.gone")
    _insert_researchers(db, rows)


def _apply_topics(db: sqlite3.Connection, delete: list[int], rows: list[tuple[int, TopicDoc]]) -> None:
    for chunk in _chunks(delete):
        old = db.execute(f"SELECT rowid, label, description FROM topics WHERE rowid IN ({_marks(chunk)})", chunk).fetchall()
        db.executemany("INSERT INTO topics_fts(topics_fts, rowid, label, description) VALUES ('delete', ?, ?, ?)", old)
        db.execute(f"DELETE FROM topics WHERE rowid IN ({_marks(chunk)})", chunk)
    for row, doc in rows:
        _insert_topic(db, row, doc)
    for chunk in _chunks([row for row, _ in rows]):
        db.execute(f"INSERT INTO topics_fts(rowid, label, description) SELECT rowid, label, description FROM topics "
                   f"WHERE rowid IN ({_marks(chunk)})", chunk)


def _chunks(values: list, size: int = 900) -> Iterator[list]:
    """SQLite's bound-parameter limit, respected."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _word_docs(db: sqlite3.Connection, texts: list[tuple], columns: Sequence[str], tokenizer: str) -> dict[str, int]:
    """How many of `texts` (rows of `columns`) hold each word, read by FTS5 itself with `tokenizer`
    from a throwaway table: the words and counts an index of those rows would hold."""
    db.execute(f"CREATE VIRTUAL TABLE temp.delta USING fts5({', '.join(columns)}, content='', tokenize='{tokenizer}', detail='none')")
    try:
        db.executemany(f"INSERT INTO temp.delta({', '.join(columns)}) VALUES ({_marks(columns)})", texts)
        db.execute("CREATE VIRTUAL TABLE temp.delta_vocab USING fts5vocab(temp, 'delta', 'row')")
        return dict(db.execute("SELECT term, doc FROM temp.delta_vocab"))
    finally:
        db.execute("DROP TABLE IF EXISTS temp.delta_vocab")
        db.execute("DROP TABLE temp.delta")


def _apply_term_docs(db: sqlite3.Connection, left: list[tuple], came: list[tuple]) -> None:
    """`term_docs` again for every term of the works that left or came, from the index itself."""
    terms = set(_word_docs(db, left, _TEXT_COLUMNS, T.FTS5_TOKENIZER)) | set(_word_docs(db, came, _TEXT_COLUMNS, T.FTS5_TOKENIZER))
    db.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, 'works_fts', 'row')")
    try:
        for term in sorted(terms):
            row = db.execute("SELECT doc FROM temp.vocab WHERE term = ?", (term,)).fetchone()
            if row and row[0] > TERM_DOCS_FLOOR:
                db.execute("INSERT OR REPLACE INTO term_docs VALUES (?, ?)", (term, row[0]))
            else:
                db.execute("DELETE FROM term_docs WHERE term = ?", (term,))
    finally:
        db.execute("DROP TABLE temp.vocab")


def _apply_spelling_words(db: sqlite3.Connection, left: list[tuple], came: list[tuple]) -> None:
    """The spelling vocabulary's counts less the words of the works that left, plus those that came."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'spelling_words'").fetchone():
        return
    delta = Counter(_word_docs(db, [t[:2] for t in came], ("title", "abstract"), SPELLING_TOKENIZER))
    delta.subtract(_word_docs(db, [t[:2] for t in left], ("title", "abstract"), SPELLING_TOKENIZER))
    for word, change in sorted(delta.items()):
        if change == 0 or any("0" <= c <= "9" for c in word):  # as the build's GLOB '*[0-9]*'
            continue
        db.execute("INSERT INTO spelling_words VALUES (?, ?) ON CONFLICT(word) DO UPDATE SET works = works + excluded.works",
                   (word, change))
    db.execute("DELETE FROM spelling_words WHERE works <= 0")


def _write_spelling_words(db: sqlite3.Connection) -> None:
    """The spelling vocabulary: unstemmed, folded title and abstract words with how many works use
    them, read from FTS5's vocab table over a throwaway index of those two columns."""
    db.execute(
        "CREATE VIRTUAL TABLE spell_fts USING fts5(title, abstract, content='work_texts', content_rowid='rowid', "
        f"tokenize='{SPELLING_TOKENIZER}', detail='none')"
    )
    db.execute("INSERT INTO spell_fts(spell_fts) VALUES ('rebuild')")
    db.execute("CREATE VIRTUAL TABLE temp.spell_vocab USING fts5vocab(main, 'spell_fts', 'row')")
    db.execute("CREATE TABLE spelling_words (word TEXT PRIMARY KEY, works INTEGER NOT NULL) WITHOUT ROWID")
    db.execute("INSERT INTO spelling_words SELECT term, doc FROM temp.spell_vocab WHERE term NOT GLOB '*[0-9]*'")
    db.execute("DROP TABLE temp.spell_vocab")
    db.execute("DROP TABLE spell_fts")


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
