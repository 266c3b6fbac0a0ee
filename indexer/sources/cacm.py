"""The CACM and CISI test collections (SMART format) and the query / judgement files of judged collections.

Documents (`cacm.all`): records open with `.I <n>`; each field opens with a line holding only its tag:

    .T title          .W abstract        .B "CACM December, 1958"     .A one author per line
    .K keywords       .C CR categories   .N entry/date note           .X citation triples

Each record becomes a `Work` with id `<collection>-<n>` (so qrels doc ids map to work ids directly),
the collection named by the file (`cisi` for `CISI.ALL`, `cacm` otherwise; CISI records carry
`.T .A .W .X` only). Only
title, abstract, year, authors and keywords are kept: `.N` and `.X` are bookkeeping, `.C` are
classification codes that would leak into keyword matching as numbers.

Queries and judgements, for `discovery eval`:
* SMART `query.text` (`.I`, `.W` text, optional `.A` authors, `.N` note) and `qrels.text`
  (`qid docid 0 0`, every listed pair relevant);
* TREC qrels (`qid 0 docid rel`, relevant when rel > 0) and TREC topics (`<top> <num> <title>`)
  or plain `qid<TAB>text` lines.
Query ids are normalised (`"01"` and `"1"` are one query).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from models.records import Authorship, Venue, Work

VENUE = Venue(name="Communications of the ACM", kind="journal")
VENUES: dict[str, Venue | None] = {"cacm": VENUE, "cisi": None}
"""SMART collections by the name their files start with, and the venue of their records."""
_TAG = re.compile(r"^\.([A-Z])(?:\s+(.*))?$")
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")


def is_smart(first_line: str) -> bool:
    """A SMART file starts with `.I <number>`."""
    return bool(re.match(r"^\.I\s+\d+\s*$", first_line.strip()))


def norm_qid(qid: str) -> str:
    """Query ids compare as numbers when they are numbers ("01" == "1")."""
    qid = qid.strip()
    return str(int(qid)) if qid.isdigit() else qid


@dataclass
class SmartRecord:
    """One `.I` record: its number, the line it starts on, and each field's lines."""

    number: str
    line: int
    fields: dict[str, list[str]] = field(default_factory=dict)

    def text(self, tag: str) -> str:
        return " ".join(" ".join(self.fields.get(tag, [])).split())


def read_smart(path: Path) -> Iterator[SmartRecord]:
    """Split a SMART file into records; lines before the first `.I` are ignored."""
    from indexer.sources import open_text

    record: SmartRecord | None = None
    current: str | None = None
    with open_text(Path(path)) as handle:
        for line_no, raw in enumerate(handle, start=1):
            line = raw.rstrip("\n")
            match = _TAG.match(line)
            if match and match.group(1) == "I":
                if record is not None:
                    yield record
                record, current = SmartRecord((match.group(2) or "").strip(), line_no), None
                continue
            if record is None:
                continue
            if current is None and not record.fields and line.strip().isdigit():
                record.number += line.strip()  # cacm.all wraps one id over two lines (".I 28" + "56")
                continue
            if match and not (match.group(2) or "").strip():
                current = match.group(1)
                record.fields.setdefault(current, [])
            elif current is not None:
                record.fields[current].append(line.strip())
    if record is not None:
        yield record


def author_name(raw: str) -> str:
    """"Perlis, A. J." -> "A. J. Perlis"; "Samelson,K." -> "K. Samelson"; no comma: as given."""
    raw = " ".join(raw.split())
    if "," in raw:
        family, given = (part.strip() for part in raw.split(",", 1))
        return f"{given} {family}".strip() if given else family
    return raw


def _first_sentence(text: str, limit: int = 120) -> str:
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rsplit(" ", 1)[0] + "…"


def collection_of(path: Path) -> str:
    """`cisi` for `CISI.ALL` (any case), `cacm` for `cacm.all` and any other SMART file."""
    name = Path(path).name.lower()
    return next((c for c in VENUES if name.startswith(c)), "cacm")


def parse_record(record: SmartRecord, collection: str = "cacm") -> Work:
    """One CACM or CISI record as a Work; RecordError when it has no number or no title."""
    from indexer.sources import RecordError

    if not record.number.isdigit():
        raise RecordError(f"record number {record.number!r} is not a number")
    title = record.text("T")
    abstract = record.text("W") or None
    if not title and abstract:  # one CACM record (3193) has only an abstract: its first sentence titles it
        title = _first_sentence(abstract)
    if not title:
        raise RecordError(f"record {record.number} has neither a title (.T) nor an abstract (.W)")
    year_match = _YEAR.search(record.text("B"))
    authors = [author_name(a) for a in record.fields.get("A", []) if a.strip()]
    keywords = [k.strip() for k in re.split(r"[,;]", record.text("K")) if k.strip()]
    return Work(
        id=f"{collection}-{int(record.number)}",
        source=collection,
        source_id=str(int(record.number)),
        title=title,
        abstract=abstract,
        year=int(year_match.group(1)) if year_match else None,
        type="article",
        venue=VENUES[collection],
        keywords=keywords,
        authorships=[Authorship(position=i, name=name) for i, name in enumerate(authors)],
    )


def read_cacm(path: Path):
    """`Parsed` records (see `indexer.sources.read_records`) for every `.I` record of the file."""
    from indexer.sources import Parsed, RecordError

    collection = collection_of(path)
    for record in read_smart(path):
        try:
            yield Parsed(record.line, work=parse_record(record, collection))
        except RecordError as exc:
            yield Parsed(record.line, reason=str(exc))


# -- queries and relevance judgements ------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    authors: tuple[str, ...] = ()


def read_queries(path: Path) -> list[Query]:
    """Queries from a SMART `query.text`, TREC topics (`<top>`) or `qid<TAB>text` lines."""
    from indexer.sources import open_text

    path = Path(path)
    with open_text(path) as handle:
        content = handle.read()
    first = next((line for line in content.splitlines() if line.strip()), "")
    if is_smart(first):
        queries = []
        for record in read_smart(path):
            text = record.text("W")
            if text:
                authors = tuple(author_name(a) for a in record.fields.get("A", []) if a.strip())
                queries.append(Query(norm_qid(record.number), text, authors))
        return queries
    if "<top>" in content:
        return _trec_topics(content)
    queries = []
    for line in content.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        qid, sep, text = line.partition("\t")
        if not sep:
            qid, _, text = line.strip().partition(" ")
        if text.strip():
            queries.append(Query(norm_qid(qid), " ".join(text.split())))
    return queries


def _trec_topics(content: str) -> list[Query]:
    """TREC topics: the `<title>` of each `<top>` (its `<desc>` when the title is empty)."""
    queries = []
    for block in re.findall(r"<top>(.*?)</top>", content, flags=re.S | re.I):
        num = re.search(r"<num>\s*(?:Number:)?\s*(\S+)", block, flags=re.I)
        if not num:
            continue

        def section(tag: str) -> str:
            found = re.search(rf"<{tag}>(.*?)(?=<\w+>|$)", block, flags=re.S | re.I)
            text = found.group(1) if found else ""
            text = re.sub(r"^\s*(Topic|Description|Narrative):", "", text.strip(), flags=re.I)
            return " ".join(text.split())

        text = section("title") or section("desc")
        if text:
            queries.append(Query(norm_qid(num.group(1)), text))
    return queries


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """Query id -> {doc id: graded relevance > 0}: TREC (`qid iter docid rel`) or SMART (`qid docid 0 0`).

    A file is TREC when every line's second column is an iteration marker (`0` or `Q0`); SMART
    qrels list only relevant pairs, so each gets relevance 1. Non-relevant TREC lines are dropped.
    """
    from indexer.sources import SourceError, open_text

    with open_text(Path(path)) as handle:
        rows = [line.split() for line in handle if line.strip() and not line.lstrip().startswith("#")]
    if not rows:
        raise SourceError(f"{path}: no relevance judgements")
    if any(len(row) < 2 for row in rows):
        raise SourceError(f"{path}: a qrels line needs at least a query id and a document id")
    trec = all(len(row) >= 4 and row[1] in ("0", "Q0") for row in rows)
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for row in rows:
        if trec:
            qid, doc, rel = row[0], row[2], row[3]
            try:
                grade = int(float(rel))
            except ValueError as exc:
                raise SourceError(f"{path}: relevance {rel!r} is not a number") from exc
            if grade > 0:
                qrels[norm_qid(qid)][doc] = grade
        else:
            qrels[norm_qid(row[0])][row[1]] = 1
    return dict(qrels)
