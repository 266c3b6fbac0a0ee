"""Background jobs (ingest, reindex, rollback): recorded in the catalog, run in their own process.

A job runs as `discovery <kind> --job ID` in a child process, so killing it (even SIGKILL) never
takes the web server down; progress goes to the `jobs` table, which any process can read. One
reindex at a time is enforced by an OS file lock that dies with its holder, so a killed job never
leaves a stale lock behind. Rows never wedge: whenever jobs are listed, a row whose process is gone
is closed (`interrupted` if it was running, `failed` if it died or was never launched before it
started), and a process only counts as the job's if its command line names the job (a recycled PID
does not keep a dead job alive).
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from indexer.catalog import Catalog, now

KINDS = ("ingest", "reindex", "rollback")
EXCLUSIVE = {"reindex", "rollback"}  # both change which index version is live
LAUNCH_GRACE = timedelta(minutes=2)  # a queued row with no process after this long was never launched


class JobConflict(RuntimeError):
    def __init__(self, job_id: int):
        super().__init__(f"a reindex is already running (job {job_id})")
        self.job_id = job_id


@dataclass
class Job:
    id: int
    kind: str
    args: dict
    actor: str
    status: str  # queued | running | succeeded | failed | interrupted
    pid: int | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    progress: dict = field(default_factory=dict)
    result: dict | None = None
    error: str | None = None


class JobStore:
    def __init__(self, catalog: Catalog, data_dir: Path):
        self.db = catalog.db
        self.data_dir = Path(data_dir)

    # -- records -------------------------------------------------------------------------
    def _row(self, row: sqlite3.Row | tuple) -> Job:
        (id_, kind, args, actor, status, pid, created, started, finished, progress, result, error) = row
        return Job(id_, kind, json.loads(args), actor, status, pid, created, started, finished,
                   json.loads(progress or "{}"), json.loads(result) if result else None, error)

    def get(self, job_id: int) -> Job | None:
        self._reap()
        row = self.db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._row(row) if row else None

    def recent(self, limit: int = 10) -> list[Job]:
        self._reap()
        return [self._row(r) for r in self.db.execute("SELECT * FROM jobs ORDER BY id DESC LIMIT ?", (limit,))]

    def running(self) -> list[Job]:
        self._reap()
        return [self._row(r) for r in self.db.execute("SELECT * FROM jobs WHERE status IN ('queued', 'running') ORDER BY id")]

    def create(self, kind: str, args: dict, actor: str) -> Job:
        if kind not in KINDS:
            raise ValueError(f"unknown job kind {kind!r}")
        if kind in EXCLUSIVE:
            for job in self.running():
                if job.kind in EXCLUSIVE:
                    raise JobConflict(job.id)
        with self.db:
            cur = self.db.execute(
                "INSERT INTO jobs (kind, args, actor, status, created_at) VALUES (?, ?, ?, 'queued', ?)",
                (kind, json.dumps(args), actor, now()),
            )
        return self.get(int(cur.lastrowid))

    def mark_running(self, job_id: int) -> None:
        with self.db:
            self.db.execute("UPDATE jobs SET status='running', pid=?, started_at=? WHERE id=?", (os.getpid(), now(), job_id))

    def report(self, job_id: int, progress: dict) -> None:
        with self.db:
            self.db.execute("UPDATE jobs SET progress=? WHERE id=?", (json.dumps(progress), job_id))

    def finish(self, job_id: int, result: dict) -> None:
        with self.db:
            self.db.execute("UPDATE jobs SET status='succeeded', finished_at=?, result=? WHERE id=?",
                            (now(), json.dumps(result, default=str), job_id))

    def fail(self, job_id: int, error: str) -> None:
        with self.db:
            self.db.execute("UPDATE jobs SET status='failed', finished_at=?, error=? WHERE id=?", (now(), error, job_id))

    def _reap(self) -> None:
        """Close rows whose process is gone, instead of showing them queued or running forever."""
        rows = self.db.execute("SELECT id, pid, status, created_at FROM jobs WHERE status IN ('queued', 'running')").fetchall()
        stale_before = (datetime.now(timezone.utc) - LAUNCH_GRACE).isoformat(timespec="microseconds")
        for job_id, pid, status, created_at in rows:
            if pid and _is_job_process(pid, job_id):
                continue
            if status == "running":
                outcome, error = "interrupted", None
            elif pid or created_at < stale_before:
                outcome, error = "failed", "the job's process ended before the job started" if pid else "never launched"
            else:
                continue  # just created: its process is being started
            with self.db:
                self.db.execute("UPDATE jobs SET status=?, finished_at=?, error=? WHERE id=? AND status=?",
                                (outcome, now(), error, job_id, status))

    # -- audit ---------------------------------------------------------------------------
    def audit(self, actor: str, action: str, detail: dict, outcome: str) -> None:
        with self.db:
            self.db.execute("INSERT INTO audit_log (at, actor, action, detail, outcome) VALUES (?, ?, ?, ?, ?)",
                            (now(), actor, action, json.dumps(detail, default=str), outcome))

    def audit_entries(self, limit: int = 50) -> list[dict]:
        cur = self.db.execute("SELECT at, actor, action, detail, outcome FROM audit_log ORDER BY id DESC LIMIT ?", (limit,))
        return [{"at": a, "actor": b, "action": c, "detail": json.loads(d), "outcome": e} for a, b, c, d, e in cur]

    # -- running -------------------------------------------------------------------------
    def launch(self, job: Job, env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start `discovery <kind> --job ID` as a detached child; it reports through the table. The
        child's PID is recorded at once, so a child that dies before it starts is noticed; a launch
        that fails marks the job failed."""
        command = [sys.executable, "-m", "web.cli", job.kind, "--job", str(job.id), *job.args.get("argv", [])]
        try:
            with open(self.data_dir / f"job-{job.id}.log", "ab") as log:  # the child keeps its own copy
                child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, **(env or {})}, start_new_session=True)
        except OSError as exc:
            self.fail(job.id, f"could not start the job: {exc}")
            raise
        with self.db:
            self.db.execute("UPDATE jobs SET pid=? WHERE id=? AND pid IS NULL", (child.pid, job.id))
        return child


def _is_job_process(pid: int, job_id: int) -> bool:
    """Is `pid` alive and running job `job_id`? A zombie is gone; a PID the OS gave to another
    program since (its command line does not name this job) is not ours."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            if handle.read().split(") ", 1)[1][0] == "Z":
                return False
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            args = handle.read().split(b"\0")
    except (OSError, IndexError):
        return False
    if not any(args):  # mid-exec: the new program's arguments are not readable yet, so it is not gone
        return True
    return any(a == b"--job" and b == str(job_id).encode() for a, b in zip(args, args[1:]))


@contextmanager
def exclusive_index_lock(data_dir: Path) -> Iterator[None]:
    """Held while a version is built or switched; released by the OS if the holder dies."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(data_dir) / "index.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JobConflict(_holder(data_dir)) from None
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _holder(data_dir: Path) -> int:
    try:
        with Catalog(Path(data_dir) / "catalog.sqlite") as catalog:
            running = [j for j in JobStore(catalog, data_dir).running() if j.kind in EXCLUSIVE]
        return running[0].id if running else 0
    except sqlite3.Error:
        return 0
