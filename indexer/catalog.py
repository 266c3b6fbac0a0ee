"""The catalog: one SQLite file holding every ingested work, the vector cache and the resolved
identities. It is the source of truth that index versions are built from."""

from __future__ import annotations

import fcntl
import functools
import json
import sqlite3
import threading
from dataclasses import fields, is_dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Collection, Iterable, Iterator

import numpy as np

from indexer.sources import work_problem
from models.records import Authorship, Institution, Venue, Work, short_hash

MIGRATIONS = Path(__file__).parent / "migrations"
_migrated: set[Path] = set()  # catalogs this process already brought to the newest schema
_migrating = threading.Lock()

CATALOG_STAMP = "catalog_updated_at"
"""Key of an index version's meta: the newest catalog change the version was built from."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def work_to_json(work: Work) -> str:
    return json.dumps(_plain(work), ensure_ascii=False, sort_keys=True)


def _plain(value: object) -> object:
    """What `dataclasses.asdict` gives, without its deep copy of every leaf (writing 60k bench works:
    60.6 s before, 50.9 s after). Records hold only immutable leaves, so nothing shared can change."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if is_dataclass(value):
        return {name: _plain(getattr(value, name)) for name in _field_names(type(value))}
    return value


@functools.cache
def _field_names(record_type: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(record_type))


def work_from_json(text: str) -> Work:
    data = json.loads(text)
    data["venue"] = Venue(**data["venue"]) if data.get("venue") else None
    data["authorships"] = [
        Authorship(**{**a, "institutions": [Institution(**i) for i in a["institutions"]]})
        for a in data["authorships"]
    ]
    return Work(**data)


def content_hash(work: Work) -> str:
    return short_hash(work_to_json(work), 20)


def text_hash(text: str) -> str:
    return short_hash(text, 20)


def migrate(path: Path) -> None:
    """Bring the catalog at `path` to the newest schema (Alembic, `indexer/migrations`), once per
    process; a file lock keeps two processes starting together from migrating at the same time."""
    key = Path(path).resolve()
    with _migrating:
        if key in _migrated:
            return
        from alembic import command
        from alembic.config import Config
        from sqlalchemy import create_engine

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        engine = create_engine(f"sqlite:///{key}", connect_args={"timeout": 30})
        try:
            with open(key.with_name(key.name + ".migrate-lock"), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
                with engine.begin() as connection:
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
        finally:
            engine.dispose()
        _migrated.add(key)



IN_BATCH = 500
"""Values bound in one `IN (...)` list: below SQLite's variable limit."""


def _in_batches(values: Iterable[str]) -> Iterator[tuple[list[str], str]]:
    """`values` a batch at a time, each with its `?,?,...` placeholders for an `IN (...)` list."""
    values = list(values)
    for start in range(0, len(values), IN_BATCH):
        batch = values[start : start + IN_BATCH]
        yield batch, ",".join("?" * len(batch))

class Catalog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        migrate(self.path)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- works ---------------------------------------------------------------------------
    def existing_hashes(self, ids: Iterable[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk, marks in _in_batches(ids):
            found.update(self.db.execute(f"SELECT id, content_hash FROM works WHERE id IN ({marks})", chunk))
        return found

    def upsert_works(self, rows: list[tuple[Work, str, str, int]]) -> None:
        """rows: (work, content hash, file, line); one transaction, so a crash keeps whole batches."""
        stamp = now()
        with self.db:
            self.db.executemany(
                """INSERT INTO works (id, source, source_id, content_hash, record, file, line, ingested_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(id) DO UPDATE SET content_hash=excluded.content_hash, record=excluded.record,
                       file=excluded.file, line=excluded.line, updated_at=excluded.updated_at""",
                [(w.id, w.source, w.source_id, h, work_to_json(w), f, line, stamp, stamp) for w, h, f, line in rows],
            )

    def works(self, skipped: list[tuple[str, str]] | None = None, ids: Collection[str] | None = None,
              sound: Callable[[str], bool] | None = None) -> Iterator[Work]:
        """Every work that can be indexed (of `ids` only, when given). A stored record that cannot
        (ingested before its fields were validated, or damaged) is left out and appended to
        `skipped` as (id, reason). `sound(id)` says a record is already known to pass `work_problem`
        (a build checked it earlier): it is parsed but not checked again."""
        if ids is None:
            rows: Iterable[tuple[str, str]] = self.db.execute("SELECT id, record FROM works ORDER BY id")
        else:
            rows = (row for chunk, marks in _in_batches(sorted(ids))
                    for row in self.db.execute(f"SELECT id, record FROM works WHERE id IN ({marks}) ORDER BY id", chunk))
        for work_id, record in rows:
            try:
                work = work_from_json(record)
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                problem: str | None = f"unreadable record: {type(exc).__name__}: {exc}"
            else:
                problem = None if sound is not None and sound(work_id) else work_problem(work)
            if problem is None:
                yield work
            elif skipped is not None:
                skipped.append((work_id, problem))

    def work(self, work_id: str) -> Work | None:
        row = self.db.execute("SELECT record FROM works WHERE id = ?", (work_id,)).fetchone()
        return work_from_json(row[0]) if row else None

    def count_works(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM works").fetchone()[0]

    def works_updated_since(self, stamp: str | None) -> int:
        if stamp is None:
            return self.count_works()
        return self.db.execute("SELECT COUNT(*) FROM works WHERE updated_at > ?", (stamp,)).fetchone()[0]

    def remove_works(self, ids: Iterable[str]) -> int:
        """Take works out of the catalog; each removal is stamped, so the next incremental reindex
        removes them from the index too."""
        ids = sorted(set(ids))
        stamp = now()
        with self.db:
            removed = 0
            for chunk, marks in _in_batches(ids):
                removed += self.db.execute(f"DELETE FROM works WHERE id IN ({marks})", chunk).rowcount
            self.db.executemany(
                "INSERT OR REPLACE INTO work_removals (id, removed_at) VALUES (?, ?)", [(i, stamp) for i in ids]
            )
        return removed

    def changes_since(self, stamp: str) -> tuple[set[str], set[str]]:
        """(ids of works added or changed after `stamp`, ids of works removed after it and not back)."""
        changed = {r[0] for r in self.db.execute("SELECT id FROM works WHERE updated_at > ?", (stamp,))}
        removed = {r[0] for r in self.db.execute(
            "SELECT id FROM work_removals WHERE removed_at > ? AND id NOT IN (SELECT id FROM works)", (stamp,)
        )}
        return changed, removed

    # -- the last build, for the next incremental one ------------------------------------------
    def work_topics(self) -> tuple[dict[str, list[dict]], dict[str, str]]:
        """The last build's topic assignment: work id -> its topic refs (as dicts), topic id -> origin."""
        refs = {wid: json.loads(text) for wid, text in self.db.execute("SELECT work_id, refs FROM work_topic_refs")}
        return refs, dict(self.db.execute("SELECT topic_id, origin FROM topic_origins"))

    def store_work_topics(self, refs: dict[str, list[dict]], origins: dict[str, str], removed: Iterable[str] = (),
                          replace: bool = False) -> None:
        """Write the topic refs of `refs`' works (all of them when `replace`) and drop `removed` works'."""
        with self.db:
            if replace:
                self.db.execute("DELETE FROM work_topic_refs")
                self.db.execute("DELETE FROM topic_origins")
            self.db.executemany("DELETE FROM work_topic_refs WHERE work_id = ?", [(w,) for w in removed])
            self.db.executemany(
                "INSERT OR REPLACE INTO work_topic_refs (work_id, refs) VALUES (?, ?)",
                [(wid, json.dumps(r, ensure_ascii=False, sort_keys=True)) for wid, r in refs.items()],
            )
            self.db.executemany("INSERT OR REPLACE INTO topic_origins VALUES (?, ?)", list(origins.items()))

    def indexed_version(self, engine: str) -> int | None:
        """The version `engine` last built from this catalog (the one `doc_hashes` describes)."""
        row = self.db.execute("SELECT version FROM indexed_versions WHERE engine = ?", (engine,)).fetchone()
        return row[0] if row else None

    def doc_hashes(self, engine: str, kind: str, ids: list[str]) -> dict[str, str]:
        """Doc id -> hash in the version `engine` last built, for those of `ids` it held."""
        found: dict[str, str] = {}
        for chunk, marks in _in_batches(ids):
            found.update(self.db.execute(
                f"SELECT id, hash FROM doc_hashes WHERE engine = ? AND kind = ? AND id IN ({marks})", [engine, kind, *chunk]
            ))
        return found

    def hashed_doc_ids(self, engine: str, kind: str) -> Iterator[str]:
        for (doc_id,) in self.db.execute("SELECT id FROM doc_hashes WHERE engine = ? AND kind = ?", (engine, kind)):
            yield doc_id

    def store_doc_hashes(self, engine: str, version: int, changed: dict[str, dict[str, str]],
                         removed: dict[str, Iterable[str]], replace: bool = False) -> None:
        with self.db:
            if replace:
                self.db.execute("DELETE FROM doc_hashes WHERE engine = ?", (engine,))
            for kind, ids in removed.items():
                self.db.executemany("DELETE FROM doc_hashes WHERE engine = ? AND kind = ? AND id = ?",
                                    [(engine, kind, i) for i in ids])
            for kind, hashes in changed.items():
                self.db.executemany("INSERT OR REPLACE INTO doc_hashes VALUES (?, ?, ?, ?)",
                                    [(engine, kind, i, h) for i, h in hashes.items()])
            self.db.execute("INSERT OR REPLACE INTO indexed_versions VALUES (?, ?)", (engine, version))

    # -- ingest runs ---------------------------------------------------------------------
    def start_ingest(self, files: list[str]) -> int:
        with self.db:
            cur = self.db.execute("INSERT INTO ingest_runs (started_at, files) VALUES (?, ?)", (now(), json.dumps(files)))
        return int(cur.lastrowid)

    def record_rejections(self, run_id: int, rejections: list[tuple[str, int, str]]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT INTO rejections (run_id, file, line, reason) VALUES (?, ?, ?, ?)",
                [(run_id, f, line, reason) for f, line, reason in rejections],
            )

    def finish_ingest(self, run_id: int, counts: dict[str, int]) -> None:
        with self.db:
            self.db.execute(
                "UPDATE ingest_runs SET finished_at=?, read=?, added=?, updated=?, unchanged=?, rejected=? WHERE id=?",
                (now(), counts["read"], counts["added"], counts["updated"], counts["unchanged"], counts["rejected"], run_id),
            )

    # -- vector cache --------------------------------------------------------------------
    def cached_vectors(self, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        return dict(self.each_cached_vector(model, hashes))

    def each_cached_vector(self, model: str, hashes: Iterable[str]) -> Iterator[tuple[str, np.ndarray]]:
        """(text hash, vector) for each of `hashes` the cache holds, one at a time."""
        for chunk, marks in _in_batches(hashes):
            for h, blob in self.db.execute(
                f"SELECT content_hash, vector FROM vectors WHERE model = ? AND content_hash IN ({marks})", [model, *chunk]
            ):
                yield h, np.frombuffer(blob, dtype=np.float32)

    def store_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO vectors (model, content_hash, vector) VALUES (?, ?, ?)",
                [(model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in vectors.items()],
            )

    # -- each work's mentions as identity made them -----------------------------------------
    def stored_mentions(self, stamp: str) -> Iterator[tuple[str, str]]:
        """(work id, its mentions as JSON) of every work whose stored mentions are current: made by
        the rules of `stamp` from the record the catalog holds (same content hash); in id order."""
        return iter(self.db.execute(
            """SELECT m.work_id, m.mentions FROM work_mentions m JOIN works w ON w.id = m.work_id
               AND w.content_hash = m.content_hash WHERE m.stamp = ? ORDER BY m.work_id""", (stamp,)))

    def content_hashes(self) -> dict[str, str]:
        """Work id -> content hash of every work."""
        return dict(self.db.execute("SELECT id, content_hash FROM works"))

    def works_without_mentions(self, stamp: str) -> dict[str, str]:
        """Work id -> content hash of every work without current stored mentions (`stored_mentions`)."""
        return dict(self.db.execute(
            """SELECT w.id, w.content_hash FROM works w LEFT JOIN work_mentions m ON m.work_id = w.id
               AND m.content_hash = w.content_hash AND m.stamp = ? WHERE m.work_id IS NULL""", (stamp,)))

    def store_work_mentions(self, stamp: str, rows: dict[str, tuple[str, str]]) -> None:
        """rows: work id -> (content hash of its record, its mentions as JSON), made by `stamp`'s rules."""
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO work_mentions VALUES (?, ?, ?, ?)",
                                [(wid, h, stamp, text) for wid, (h, text) in rows.items()])

    def drop_removed_mentions(self) -> None:
        """Forget the stored mentions of works no longer in the catalog."""
        with self.db:
            self.db.execute("DELETE FROM work_mentions WHERE work_id NOT IN (SELECT id FROM works)")

    # -- identity memory (keeps researcher ids stable across rebuilds) --------------------
    def mention_researchers(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT mention, researcher_id FROM mention_researchers"))

    def mention_links(self) -> dict[str, tuple[str, str | None, float | None]]:
        """Mention key -> (researcher id, link method, confidence); method None when not stored."""
        rows = self.db.execute("SELECT mention, researcher_id, method, confidence FROM mention_researchers")
        return {mention: (rid, method, confidence) for mention, rid, method, confidence in rows}

    def store_mention_researchers(self, assignments: dict[str, str], methods: dict[str, tuple[str, float]] | None = None) -> None:
        """`methods`: how each mention was linked (method, confidence), kept for incremental reindexes."""
        methods = methods or {}
        with self.db:
            self.db.execute("DELETE FROM mention_researchers")
            self.db.executemany(
                "INSERT INTO mention_researchers (mention, researcher_id, method, confidence) VALUES (?, ?, ?, ?)",
                [(mention, rid, *methods.get(mention, (None, None))) for mention, rid in assignments.items()],
            )

    def update_mention_links(self, links: dict[str, tuple[str, str, float]], removed: Iterable[str]) -> None:
        """Write `links` (mention key -> (researcher id, method, confidence)) over the stored ones and
        drop the `removed` mentions': an incremental build's changes, not every mention again."""
        with self.db:
            self.db.executemany("DELETE FROM mention_researchers WHERE mention = ?", [(key,) for key in removed])
            self.db.executemany("INSERT OR REPLACE INTO mention_researchers (mention, researcher_id, method, confidence) "
                                "VALUES (?, ?, ?, ?)", [(key, *link) for key, link in links.items()])

    # -- index runs ----------------------------------------------------------------------
    def start_index_run(self) -> tuple[int, str]:
        stamp = self.db.execute("SELECT MAX(updated_at) FROM works").fetchone()[0]
        with self.db:
            cur = self.db.execute(
                "INSERT INTO index_runs (started_at, max_work_updated_at) VALUES (?, ?)", (now(), stamp)
            )
        return int(cur.lastrowid), stamp

    def finish_index_run(self, run_id: int, counts: dict[str, int]) -> None:
        with self.db:
            self.db.execute(
                "UPDATE index_runs SET finished_at=?, works=?, embedded=?, researchers=?, topics=? WHERE id=?",
                (now(), counts.get("works"), counts.get("embedded"), counts.get("researchers"), counts.get("topics"), run_id),
            )

    def latest_index_run(self) -> int | None:
        """The id of the newest index run, finished or not (a run may have stored mention links and then failed)."""
        return self.db.execute("SELECT MAX(id) FROM index_runs").fetchone()[0]

    def last_index_run(self) -> dict | None:
        cur = self.db.execute("SELECT * FROM index_runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1")
        row = cur.fetchone()
        return dict(zip([c[0] for c in cur.description], row)) if row else None

    def stats(self) -> dict[str, object]:
        by_source = dict(self.db.execute("SELECT source, COUNT(*) FROM works GROUP BY source"))
        last = self.last_index_run()
        return {
            "works": self.count_works(),
            "works_by_source": by_source,
            "cached_vectors": self.db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0],
            "ingest_runs": self.db.execute("SELECT COUNT(*) FROM ingest_runs").fetchone()[0],
            "rejected_lines": self.db.execute("SELECT COUNT(*) FROM rejections").fetchone()[0],
            "last_index": last,
            "not_yet_indexed": self.works_updated_since(last["max_work_updated_at"] if last else None),
        }
