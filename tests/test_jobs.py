"""Jobs: one reindex at a time, killed jobs marked as such, rows that cannot wedge (a child that died
before it started, a launch that never happened or failed, a recycled PID), every admin action audited."""

import os
import signal
import subprocess
import sys

import pytest

from indexer.catalog import Catalog
from indexer.jobs import JobConflict, JobStore, exclusive_index_lock


@pytest.fixture
def store(tmp_path):
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        yield JobStore(catalog, tmp_path)


def test_second_reindex_conflicts_with_the_running_one(store):
    first = store.create("reindex", {}, "admin")
    with pytest.raises(JobConflict) as conflict:
        store.create("rollback", {}, "admin")
    assert conflict.value.job_id == first.id
    assert store.create("ingest", {"paths": ["x"]}, "admin").status == "queued"  # ingest may run alongside


def test_job_lifecycle(store):
    job = store.create("reindex", {"full": True}, "admin")
    store.mark_running(job.id)
    store.report(job.id, {"stage": "embed", "done": 3, "total": 10})
    assert store.get(job.id).progress == {"stage": "embed", "done": 3, "total": 10}
    store.finish(job.id, {"version": 2})
    done = store.get(job.id)
    assert done.status == "succeeded" and done.result == {"version": 2} and done.finished_at
    assert store.create("reindex", {}, "admin").id == job.id + 1  # finished jobs block nothing


def test_a_killed_job_is_reported_interrupted_and_frees_the_slot(store, tmp_path):
    job = store.create("reindex", {}, "admin")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "--job", str(job.id)])
    store.db.execute("UPDATE jobs SET status='running', pid=? WHERE id=?", (child.pid, job.id))
    store.db.commit()
    assert [j.id for j in store.running()] == [job.id]
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert store.get(job.id).status == "interrupted"
    assert store.create("reindex", {}, "admin").status == "queued"


def test_index_lock_is_exclusive_and_dies_with_its_holder(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from indexer.jobs import exclusive_index_lock\n"
         "with exclusive_index_lock(sys.argv[1]):\n    print('locked', flush=True); time.sleep(60)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(JobConflict):
        with exclusive_index_lock(tmp_path):
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with exclusive_index_lock(tmp_path):
        pass


def test_audit_log_records_who_what_when_outcome(store):
    store.audit("admin@127.0.0.1", "reindex", {"full": False}, "started job 1")
    entry = store.audit_entries()[0]
    assert entry["actor"] == "admin@127.0.0.1" and entry["action"] == "reindex" and entry["at"]
    assert entry["outcome"] == "started job 1"


def test_a_queued_job_whose_process_died_before_starting_is_failed_and_frees_the_slot(store):
    job = store.create("reindex", {}, "admin")
    child = subprocess.Popen([sys.executable, "-c", "pass", "--job", str(job.id)])
    child.wait()
    store.db.execute("UPDATE jobs SET pid=? WHERE id=?", (child.pid, job.id))  # as launch() records it
    store.db.commit()
    gone = store.get(job.id)
    assert gone.status == "failed" and "before the job started" in gone.error
    assert store.create("reindex", {}, "admin").status == "queued"


def test_a_queued_job_never_launched_is_failed_after_the_grace_period(store):
    job = store.create("reindex", {}, "admin")
    with pytest.raises(JobConflict):  # just created: its launch may be under way
        store.create("reindex", {}, "admin")
    store.db.execute("UPDATE jobs SET created_at='2000-01-01T00:00:00.000000+00:00' WHERE id=?", (job.id,))
    store.db.commit()
    assert store.get(job.id).status == "failed" and store.get(job.id).error == "never launched"
    assert store.create("reindex", {}, "admin").status == "queued"


def test_a_recycled_pid_does_not_keep_a_dead_job_running(store):
    job = store.create("reindex", {}, "admin")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # alive, but not the job
    try:
        store.db.execute("UPDATE jobs SET status='running', pid=? WHERE id=?", (other.pid, job.id))
        store.db.commit()
        assert store.get(job.id).status == "interrupted"
    finally:
        other.kill()
        other.wait()


def test_launch_records_the_pid_and_closes_the_log_file(store, tmp_path):
    job = store.create("ingest", {"argv": [str(tmp_path / "missing.jsonl")]}, "admin")
    child = store.launch(job, {"DISCOVERY_DATA_DIR": str(tmp_path)})
    try:
        assert store.db.execute("SELECT pid FROM jobs WHERE id=?", (job.id,)).fetchone()[0] == child.pid
        log = str(tmp_path / f"job-{job.id}.log")
        assert not [fd for fd in os.listdir("/proc/self/fd") if os.path.realpath(f"/proc/self/fd/{fd}") == log]
    finally:
        child.wait(timeout=300)
    assert store.get(job.id).status == "failed"  # the file is missing; the row says so


def test_a_failed_launch_marks_the_job_failed(store, tmp_path):
    job = store.create("reindex", {}, "admin")
    (tmp_path / f"job-{job.id}.log").mkdir()  # the log cannot be opened
    with pytest.raises(OSError):
        store.launch(job)
    failed = store.get(job.id)
    assert failed.status == "failed" and "could not start" in failed.error
    assert store.create("reindex", {}, "admin").status == "queued"
