"""How the admin pages say things: times to the second (in the viewer's own time zone once
`site.js` runs, UTC without JavaScript), job stages in words, job results as rows of a table.

Jinja filters only; the admin routes (`web.admin`) hand the templates the job records as stored.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone

from markupsafe import Markup, escape

from indexer.jobs import Job

# What each stage of a job does, as the indexer and the engines name them (`progress(stage, ...)`).
STAGES = {
    "start": "Starting the job",
    "ingest": "Reading records into the catalog",
    "read": "Reading the catalog",
    "embed": "Embedding new or changed texts",
    "identity": "Linking author mentions to researchers",
    "topics": "Finding topics and building profiles",
    "index text": "Building the keyword index",
    "index works": "Writing works into the new index version",
    "index researchers": "Writing researchers into the new index version",
    "index topics": "Writing topics into the new index version",
    "rollback": "Switching to the previous index version",
}
# Reindex stages in the order they run, to say "stage 3 of 7".
REINDEX_ORDER = ["read", "embed", "identity", "topics", "index text", "index works", "index researchers", "index topics"]
TIMINGS = {"embed": "embedding", "identity": "linking authors", "aggregate": "topics and profiles",
           "build": "writing the index", "total": "total"}
LABELS = {
    "read": "records read", "added": "added", "updated": "updated", "unchanged": "unchanged", "rejected": "rejected",
    "works": "works", "embedded": "texts embedded", "reused_vectors": "vectors reused from the cache",
    "researchers": "researchers", "topics": "topics", "full": "full rebuild", "excluded_works": "works owners excluded",
    "version": "index version", "engine": "engine", "files": "files", "seconds": "time taken",
}


def moment(value: str | None) -> Markup:
    """An ISO time as `<time>`: UTC to the second here; `site.js` rewrites it in the viewer's zone."""
    if not value:
        return Markup("–")
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return escape(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    utc = when.astimezone(timezone.utc)
    return Markup('<time datetime="{}" data-local>{}</time>').format(
        utc.isoformat(timespec="seconds"), utc.strftime("%Y-%m-%d %H:%M:%S UTC"))


def stage_name(stage: str | None) -> str:
    return STAGES.get(stage or "", (stage or "working").capitalize())


def stage_step(stage: str | None) -> str:
    """"stage 3 of 8" for a reindex stage, "" for others."""
    return f"stage {REINDEX_ORDER.index(stage) + 1} of {len(REINDEX_ORDER)}" if stage in REINDEX_ORDER else ""


def plain_value(value: object) -> str:
    """A result value in words: yes/no for flags, "1.2 s" pairs for timings, lists joined."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{TIMINGS.get(k, k)} {plain_value(v)}{' s' if isinstance(v, float) else ''}"
                         for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(plain_value(v) for v in value) or "none"
    return "–" if value is None else str(value)


def result_rows(job: Job | dict) -> list[tuple[str, str]]:
    """A job's result as (what, value) rows, rejected records left to their own table. An upload
    is named as the admin picked it, not by the server's stored copy."""
    job = job if isinstance(job, dict) else asdict(job)
    upload = job["args"].get("upload")
    rows = []
    for key, value in (job["result"] or {}).items():
        if key == "rejections":
            continue
        if key == "files" and upload:
            value = [upload]
        elif key == "seconds" and isinstance(value, float):
            value = f"{value} s"
        rows.append((LABELS.get(key, key.replace("_", " ")), plain_value(value)))
    return rows


FILTERS = {"moment": moment, "stage_name": stage_name, "stage_step": stage_step, "result_rows": result_rows,
           "plain_value": plain_value}
