"""Ingest: bibliographic files into the catalog, in batches, with every rejected line accounted for."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from indexer.catalog import Catalog, content_hash
from indexer.sources import read_records
from models.records import Work

BATCH = 1000


@dataclass
class Rejection:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class IngestReport:
    read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("read", "added", "updated", "unchanged", "rejected")}

    def adds_up(self) -> bool:
        return self.read == self.added + self.updated + self.unchanged + self.rejected


def ingest(
    catalog: Catalog,
    paths: list[Path],
    fmt: str | None = None,
    progress: Callable[[str, int, dict[str, int]], None] | None = None,
) -> IngestReport:
    """`progress(file, records_in_batch, counts_so_far)` after each batch. Each batch is one transaction."""
    report = IngestReport(files=[str(p) for p in paths])
    run_id = catalog.start_ingest(report.files)
    for path in paths:
        batch: dict[str, tuple[Work, str, str, int]] = {}
        rejected: list[Rejection] = []

        def flush() -> None:
            known = catalog.existing_hashes(batch)
            changed = []
            for work_id, row in batch.items():
                if work_id not in known:
                    report.added += 1
                    changed.append(row)
                elif known[work_id] != row[1]:
                    report.updated += 1
                    changed.append(row)
                else:
                    report.unchanged += 1
            catalog.upsert_works(changed)
            catalog.record_rejections(run_id, [(r.file, r.line, r.reason) for r in rejected])
            report.rejections.extend(rejected)
            if progress:
                progress(str(path), len(batch) + len(rejected), report.counts())
            batch.clear()
            rejected.clear()

        first_line: dict[str, int] = {}  # id -> line, to report a second record with the same id
        for parsed in read_records(path, fmt):
            report.read += 1
            work = parsed.work
            reason = parsed.reason or "unknown"
            if work is not None and work.id in first_line:
                reason, work = f"duplicate id {work.id} (first on line {first_line[work.id]}); this line is ignored", None
            if work is None:
                report.rejected += 1
                rejected.append(Rejection(str(path), parsed.line, reason))
                continue
            first_line[work.id] = parsed.line
            batch[work.id] = (work, content_hash(work), str(path), parsed.line)
            if len(batch) + len(rejected) >= BATCH:
                flush()
        flush()
    catalog.finish_ingest(run_id, report.counts())
    return report
