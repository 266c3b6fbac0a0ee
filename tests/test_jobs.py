"""Jobs: one reindex at a time, killed jobs marked as such, every admin action audited."""

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
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
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
