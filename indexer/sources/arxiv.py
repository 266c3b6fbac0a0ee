"""arXiv metadata snapshot records: authors as one string, categories space-separated, LaTeX in text."""

from __future__ import annotations

import re

from indexer.sources import RecordError
from indexer.sources.arxiv_categories import archive_label, category_label
from indexer.sources.latex import readable
from models.records import Authorship, Institution, Venue, Work, work_id

_NEW_ID = re.compile(r"^(\d{2})(\d{2})\.\d{4,5}(v\d+)?$")
_OLD_ID = re.compile(r"^[a-z\-]+(\.[A-Z]{2})?/(\d{2})(\d{2})\d{3}(v\d+)?$")
_REF = re.compile(r"^[\d\s,;]+(and\s+[\d\s,]+)?$")
_NUMBERED = re.compile(r"(?:^|[,;]?\s*)\((\d+)\)\s*|(?:^|[,;]\s*)(\d+)\s+(?=[A-Z])")


def year_from_id(arxiv_id: str) -> int | None:
    """arXiv ids carry the submission year: YYMM.NNNNN (2007 on) or archive/YYMMNNN (before)."""
    match = _NEW_ID.match(arxiv_id)
    if match:
        return 2000 + int(match.group(1))
    match = _OLD_ID.match(arxiv_id)
    if match:
        yy = int(match.group(2))
        return (1900 if yy >= 91 else 2000) + yy
    return None


def _top_level(text: str) -> list[tuple[str, str]]:
    """Split into ('names', text) and ('group', inside-parentheses) pieces at depth 0."""
    pieces, depth, current = [], 0, []
    for char in text:
        if char == "(":
            if depth == 0:
                if "".join(current).strip():
                    pieces.append(("names", "".join(current)))
                current = []
            else:
                current.append(char)
            depth += 1
        elif char == ")" and depth > 0:
            depth -= 1
            if depth == 0:
                pieces.append(("group", "".join(current)))
                current = []
            else:
                current.append(char)
        else:
            current.append(char)
    if "".join(current).strip():
        pieces.append(("names" if depth == 0 else "group", "".join(current)))
    return pieces


def _numbered_affiliations(group: str) -> dict[str, str]:
    """'(1) CREST, (2) Kurchatov' or '1 Dip. Astro., Bologna; 2 INAF' -> {'1': ..., '2': ...}."""
    parts = _NUMBERED.split(group)
    result, number = {}, None
    for i, part in enumerate(parts):
        if part is None:
            continue
        if i % 3 in (1, 2):
            number = part
        elif number is not None and part.strip(" ,;"):
            result[number] = part.strip(" ,;")
    return result


def parse_authors(authors: str) -> list[tuple[str, list[str]]]:
    """arXiv's author string -> [(name, [affiliations])], in order."""
    text = " ".join(readable(authors).split())
    pieces = _top_level(text)
    numbered: dict[str, str] = {}
    if pieces and pieces[-1][0] == "group" and re.match(r"\s*\(?\d", pieces[-1][1]):
        numbered = _numbered_affiliations(pieces[-1][1])
        if numbered:
            pieces = pieces[:-1]
    people: list[tuple[str, list[str]]] = []
    pending: list[int] = []  # authors since the last affiliation, which it applies to
    for kind, piece in pieces:
        if kind == "names":
            for name in re.split(r",|\band\b|;|&", piece):
                name = re.sub(r"\bet al\.?$", "", name.strip()).strip(" .,") if name.strip() else ""
                if name and re.search(r"[A-Za-z\u00C0-\uFFFF]{2}", name):
                    people.append((name if not name.endswith(".") else name, []))
                    pending.append(len(people) - 1)
        elif people:
            if _REF.match(piece.strip()):
                refs = re.findall(r"\d+", piece)
                people[-1][1].extend(numbered[r] for r in refs if r in numbered)
                pending = [i for i in pending if i != len(people) - 1]
            else:
                for index in pending or [len(people) - 1]:
                    people[index][1].append(piece.strip())
                pending = []
    return people


def parse_work(record: dict) -> Work:
    arxiv_id = record.get("id")
    if not arxiv_id or not isinstance(arxiv_id, str):
        raise RecordError("missing arXiv id")
    title = readable(" ".join((record.get("title") or "").split()))
    if not title:
        raise RecordError("missing title")
    authors = record.get("authors")
    if not isinstance(authors, str) or not authors.strip():
        raise RecordError("missing authors string")
    categories = (record.get("categories") or "").split()
    labels = list(dict.fromkeys(category_label(code) for code in categories))
    fields = {category_label(code): archive_label(code) for code in reversed(categories)}  # the first category wins
    abstract = " ".join((record.get("abstract") or "").split())
    return Work(
        id=work_id("arxiv", arxiv_id),
        source="arxiv",
        source_id=arxiv_id,
        title=title,
        abstract=readable(abstract) or None,
        year=year_from_id(arxiv_id),
        type="preprint",
        venue=Venue(name="arXiv", kind="repository"),
        doi=record.get("doi") or None,
        cited_by_count=0,
        keywords=[],
        source_topics=labels,
        topic_fields={label: field for label, field in fields.items() if field != label},
        authorships=[
            Authorship(position=i, name=name, institutions=[Institution(name=a) for a in dict.fromkeys(affs)])
            for i, (name, affs) in enumerate(parse_authors(authors))
        ],
        links={"arxiv": arxiv_id},
    )
