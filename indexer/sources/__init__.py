"""Bibliographic sources: each file is read line by line into `Work` records or line-numbered rejections."""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from models.records import Work

FORMATS = ("openalex", "arxiv", "cacm")


class SourceError(ValueError):
    """A file that cannot be read at all (missing, not JSON lines, unknown format)."""


class RecordError(ValueError):
    """One record that cannot become a Work; the message is the reason shown to the user."""


@dataclass
class Parsed:
    line: int
    work: Work | None = None
    reason: str | None = None
    raw: str = ""


def open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, "rt", encoding="utf-8", errors="replace")


def detect_format(path: Path) -> str:
    """Decide from the first JSON object: arXiv snapshots have `authors` as a string and `categories`.

    A file whose first line is `.I <number>` is a SMART collection (CACM)."""
    try:
        with open_text(path) as handle:
            first = True
            for line in handle:
                if not line.strip():
                    continue
                if first and line.startswith(".I "):
                    from indexer.sources.cacm import is_smart

                    if is_smart(line):
                        return "cacm"
                first = False
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if not isinstance(record, dict):
                    continue
                if isinstance(record.get("authors"), str) or "categories" in record:
                    return "arxiv"
                if "authorships" in record or "display_name" in record or "abstract_inverted_index" in record:
                    return "openalex"
    except (OSError, EOFError) as exc:
        raise SourceError(f"{path}: cannot read: {exc}") from exc
    raise SourceError(f"{path}: no recognisable record; use --format {{{','.join(FORMATS)}}}")


def parser_for(fmt: str) -> Callable[[dict], Work]:
    if fmt == "openalex":
        from indexer.sources.openalex import parse_work
    elif fmt == "arxiv":
        from indexer.sources.arxiv import parse_work
    elif fmt == "cacm":  # records span lines: read_records hands whole files to indexer.sources.cacm
        from indexer.sources.cacm import parse_record as parse_work
    else:
        raise SourceError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return parse_work


def read_records(path: Path, fmt: str | None = None) -> Iterator[Parsed]:
    """Yield every non-blank line as a parsed Work or a rejection; never raises for a bad record."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    fmt = fmt or detect_format(path)
    parse = parser_for(fmt)
    if fmt == "cacm":
        from indexer.sources.cacm import read_cacm

        yield from read_cacm(path)
        return
    with open_text(path) as handle:
        line_no = 0
        while True:
            try:
                line = handle.readline()
            except (OSError, EOFError) as exc:  # truncated gzip: report and stop reading this file
                yield Parsed(line_no + 1, reason=f"unreadable data: {exc}")
                return
            if not line:
                return
            line_no += 1
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Parsed(line_no, reason=f"invalid JSON: {exc.msg} at column {exc.colno}", raw=line)
                continue
            if not isinstance(record, dict):
                yield Parsed(line_no, reason=f"expected a JSON object, got {type(record).__name__}", raw=line)
                continue
            try:
                yield Parsed(line_no, work=parse(record), raw=line)
            except RecordError as exc:
                yield Parsed(line_no, reason=str(exc), raw=line)
            except (TypeError, ValueError, AttributeError, KeyError) as exc:
                yield Parsed(line_no, reason=f"malformed record: {type(exc).__name__}: {exc}", raw=line)
