"""Bibliographic sources: each file is read line by line into `Work` records or line-numbered rejections."""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from models.records import Authorship, Institution, Venue, Work

FORMATS = ("openalex", "arxiv", "cacm")
MAX_TITLE = 2_000  # characters; the longest real title in 30k ML works is ~300
MAX_ABSTRACT = 100_000
MAX_SHORT = 1_000  # names, identifiers, venue, type, keywords
MAX_LIST = 5_000  # authors, keywords or topics of one work


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


def _open_bytes(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


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

        for parsed in read_cacm(path):
            problem = parsed.work and work_problem(parsed.work)
            yield Parsed(parsed.line, reason=problem) if problem else parsed
        return
    with _open_bytes(path) as handle:
        line_no = 0
        while True:
            try:
                raw = handle.readline()
            except (OSError, EOFError) as exc:  # truncated gzip: report and stop reading this file
                yield Parsed(line_no + 1, reason=f"unreadable data: {exc}")
                return
            if not raw:
                return
            line_no += 1
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:  # reported, never silently replaced
                yield Parsed(line_no, reason=f"invalid UTF-8 at byte {exc.start + 1} of the line")
                continue
            if not line.strip():
                continue
            yield _parsed(line_no, line, parse)


def _parsed(line_no: int, line: str, parse: Callable[[dict], Work]) -> Parsed:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return Parsed(line_no, reason=f"invalid JSON: {exc.msg} (column {exc.colno})", raw=line)
    if not isinstance(record, dict):
        return Parsed(line_no, reason=f"expected a JSON object, got {type(record).__name__}", raw=line)
    try:
        work = parse(record)
    except RecordError as exc:
        return Parsed(line_no, reason=str(exc), raw=line)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return Parsed(line_no, reason=f"malformed record: {type(exc).__name__}: {exc}", raw=line)
    problem = work_problem(work)
    return Parsed(line_no, reason=problem, raw=line) if problem else Parsed(line_no, work=work, raw=line)


# -- field validation: what every later stage (catalog, engines, pages) may rely on -----------------


def _text_problem(name: str, value: object, limit: int, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        return f"{name} must be text, not {type(value).__name__}"
    if not optional and not value.strip():
        return f"{name} is empty"
    if len(value) > limit:
        return f"{name} is {len(value):,} characters long (at most {limit:,})"
    return None


def _texts_problem(name: str, values: object) -> str | None:
    if not isinstance(values, list):
        return f"{name} must be a list, not {type(values).__name__}"
    if len(values) > MAX_LIST:
        return f"{name} has {len(values):,} entries (at most {MAX_LIST:,})"
    return next((p for v in values if (p := _text_problem(f"a {name} entry", v, MAX_SHORT, optional=False))), None)


def _count_problem(name: str, value: object, low: int, high: int, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        return f"{name} must be a whole number, not {type(value).__name__}"
    return None if low <= value <= high else f"{name} {value} is outside {low}..{high}"


def _author_problem(author: object) -> str | None:
    if not isinstance(author, Authorship):
        return f"an author must be a record, not {type(author).__name__}"
    checks = [_text_problem("author name", author.name, MAX_SHORT, optional=False)]
    checks += [_text_problem(f"author {kind}", getattr(author, kind), MAX_SHORT)
               for kind in ("orcid", "openalex_id", "openreview_id", "dblp_id")]
    if not isinstance(author.institutions, list):
        checks.append("author institutions must be a list")
    else:
        for institution in author.institutions:
            if not isinstance(institution, Institution):
                checks.append("an institution must be a record")
                break
            checks += [_text_problem("institution name", institution.name, MAX_SHORT, optional=False),
                       _text_problem("institution ror", institution.ror, MAX_SHORT),
                       _text_problem("institution country", institution.country, MAX_SHORT)]
    return next((c for c in checks if c), None)


def work_problem(work: Work) -> str | None:
    """Why `work` cannot be indexed (wrong type, too long, missing), or None when every field is sound.

    Ingest rejects such a record with its file and line; a build skips (and reports) any catalog
    record that still fails, so one bad record never fails a whole index version."""
    venue = work.venue
    checks = [
        _text_problem("id", work.id, MAX_SHORT, optional=False),
        _text_problem("source", work.source, MAX_SHORT, optional=False),
        _text_problem("source id", work.source_id, MAX_SHORT, optional=False),
        _text_problem("title", work.title, MAX_TITLE, optional=False),
        _text_problem("abstract", work.abstract, MAX_ABSTRACT),
        _count_problem("year", work.year, 1000, 2999),
        _text_problem("type", work.type, MAX_SHORT),
        None if venue is None or isinstance(venue, Venue) else f"venue must be a record, not {type(venue).__name__}",
        _text_problem("venue name", venue.name, MAX_SHORT, optional=False) if isinstance(venue, Venue) else None,
        _text_problem("venue kind", venue.kind, MAX_SHORT) if isinstance(venue, Venue) else None,
        _text_problem("doi", work.doi, MAX_SHORT),
        _count_problem("cited_by_count", work.cited_by_count, 0, 10**9, optional=False),
        _texts_problem("keywords", work.keywords),
        _texts_problem("topics", work.source_topics),
        None if isinstance(work.authorships, list) else "authorships must be a list",
        None if not isinstance(work.authorships, list) or len(work.authorships) <= MAX_LIST
        else f"{len(work.authorships):,} authors (at most {MAX_LIST:,})",
    ]
    if isinstance(work.authorships, list) and len(work.authorships) <= MAX_LIST:
        checks += [_author_problem(a) for a in work.authorships]
    return next((c for c in checks if c), None)
