"""Cite works: BibTeX (bibtexparser), RIS (rispy) and CSL-JSON.

Everything here reads the work dicts of `web.shapes.work`, so a page, its JSON twin and an export
describe a work the same way. `router` serves the exports of one work, a researcher's works and
a page of search results.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Callable, Literal

import bibtexparser
import rispy
from bibtexparser.model import Entry, Field
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from unidecode import unidecode

from search.interface import BadQuery
from web import api_models as M
from web import shapes
from web.routes import browse
from web.reach import ARXIV_ABS
from web.richtext import plain_text

# -- the three formats ----------------------------------------------------------------------------

FORMATS = {
    "bibtex": ("application/x-bibtex; charset=utf-8", "bib"),
    "ris": ("application/x-research-info-systems; charset=utf-8", "ris"),
    "csl-json": ("application/vnd.citationstyles.csl+json; charset=utf-8", "json"),
}
Format = Literal["bibtex", "ris", "csl-json"]


def _split_name(name: str) -> tuple[str, str]:
    """(family, given): the last word is the family name, as most sources write names."""
    parts = name.split()
    return (parts[-1], " ".join(parts[:-1])) if len(parts) > 1 else (name, "")


def _kind(work: dict) -> str:
    """article (journal), paper (proceedings) or other (preprint, book, dataset, ...)."""
    kind = (work.get("type") or "").lower()
    if kind in ("article", "journal-article"):
        return "article"
    if kind in ("proceedings-article", "inproceedings", "conference-paper"):
        return "paper"
    return "other"


def _url(work: dict) -> str | None:
    """The best place to read the work (`work["links"]` comes best first from `web.reach`)."""
    links = work.get("links") or []
    return links[0]["url"] if links else None


def _arxiv_id(work: dict) -> str | None:
    return next((link["url"].removeprefix(ARXIV_ABS) for link in work.get("links") or [] if link["kind"] == "arxiv"),
                None)


def _bibtex_escape(text: str) -> str:
    return re.sub(r"(?<!\\)([&%#])", r"\\\1", text)


def _bibtex_key(work: dict, taken: set[str]) -> str:
    authors = work.get("authors") or []
    family = _split_name(authors[0]["name"])[0] if authors else "anon"
    word = next((w for w in re.findall(r"[A-Za-z]+", unidecode(work.get("title") or "")) if len(w) > 3), "work")
    base = re.sub(r"[^a-z0-9]", "", unidecode(family).lower()) + str(work.get("year") or "") + word.lower()
    key, n = base, 0
    while key in taken:
        n += 1
        key = base + chr(ord("a") + n - 1) if n <= 26 else f"{base}{n}"
    taken.add(key)
    return key


def bibtex(works: list[dict]) -> str:
    library = bibtexparser.Library()
    taken: set[str] = set()
    for work in works:
        kind = _kind(work)
        fields = {
            "title": work.get("title"),
            "author": " and ".join(", ".join(p for p in _split_name(a["name"]) if p) for a in work.get("authors") or []),
            "year": str(work["year"]) if work.get("year") else None,
            {"article": "journal", "paper": "booktitle"}.get(kind, "howpublished"): work.get("venue"),
            "doi": (work.get("doi") or "").removeprefix("https://doi.org/") or None,
            "url": _url(work),
        }
        arxiv = _arxiv_id(work)
        if arxiv:
            fields.update(eprint=arxiv, archiveprefix="arXiv")
        entry_type = {"article": "article", "paper": "inproceedings"}.get(kind, "misc")
        library.add(Entry(entry_type, _bibtex_key(work, taken),
                          [Field(k, _bibtex_escape(v)) for k, v in fields.items() if v]))
    return bibtexparser.write_string(library)


def ris(works: list[dict]) -> str:
    entries = []
    for work in works:
        kind = _kind(work)
        entry = {
            "type_of_reference": {"article": "JOUR", "paper": "CPAPER"}.get(kind, "GEN"),
            "title": work.get("title"),
            "authors": [", ".join(p for p in _split_name(a["name"]) if p) for a in work.get("authors") or []],
            "year": str(work["year"]) if work.get("year") else None,
            "secondary_title": work.get("venue"),
            "doi": (work.get("doi") or "").removeprefix("https://doi.org/") or None,
            "urls": [link["url"] for link in work.get("links") or []],
            "abstract": plain_text(work.get("abstract")),
            "id": work["id"],
        }
        entries.append({k: v for k, v in entry.items() if v})
    return rispy.dumps(entries)


def csl_item(work: dict) -> dict:
    """One work as a CSL-JSON item (the citation format Zotero, Mendeley and citeproc read)."""
    kind = _kind(work)
    item = {
        "id": work["id"],
        "type": {"article": "article-journal", "paper": "paper-conference"}.get(kind, "article"),
        "title": work.get("title"),
        "author": [dict(zip(("family", "given"), _split_name(a["name"]))) for a in work.get("authors") or []],
        "issued": {"date-parts": [[work["year"]]]} if work.get("year") else None,
        "container-title": work.get("venue"),
        "DOI": (work.get("doi") or "").removeprefix("https://doi.org/") or None,
        "URL": _url(work),
        "abstract": plain_text(work.get("abstract")),
    }
    return {k: v for k, v in item.items() if v}


def csl_json(works: list[dict]) -> str:
    return json.dumps([csl_item(w) for w in works], ensure_ascii=False, indent=2)


WRITERS: dict[str, Callable[[list[dict]], str]] = {"bibtex": bibtex, "ris": ris, "csl-json": csl_json}


def export(works: list[dict], fmt: str, name: str) -> Response:
    """The works in `fmt` as a file download named after what was exported."""
    media, extension = FORMATS[fmt]
    filename = re.sub(r"[^A-Za-z0-9._-]+", "-", name)[:80] or "works"
    return Response(WRITERS[fmt](works), media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{filename}.{extension}"'})


# -- routes ---------------------------------------------------------------------------------------

router = APIRouter(tags=["export"])
FormatQuery = Annotated[Format, Query(description="bibtex, ris or csl-json")]
_FILE = {**M.ERRORS, 200: {"description": "The citation file.",
                            "content": {FORMATS[f][0].split(";")[0]: {} for f in FORMATS}}}


@router.get("/api/works/{work_id}/cite", response_class=Response, responses=_FILE,
            summary="Cite one work (BibTeX, RIS or CSL-JSON)")
def cite_work(data: Annotated[dict, Depends(browse.work_data)], format: FormatQuery = "bibtex"):
    return export([data["work"]], format, data["work"]["id"])


@router.get("/api/researchers/{researcher_id}/cite", response_class=Response, responses=_FILE,
            summary="Cite a researcher's works (BibTeX, RIS or CSL-JSON)")
def cite_researcher(service: browse.Service, researcher_id: browse.ResearcherId,
                    format: FormatQuery = "bibtex"):
    profile = service.researcher_profile(researcher_id)
    return export([shapes.work(w) for w in profile.works], format, profile.researcher.name + "-works")


@router.get("/api/search/cite", response_class=Response, responses=_FILE,
            summary="Cite a page of work search results (BibTeX, RIS or CSL-JSON)")
def cite_results(data: Annotated[dict, Depends(browse.search_data)], format: FormatQuery = "bibtex"):
    if data["kind"] != "works":
        raise BadQuery("only works can be cited: use kind=works")
    return export(data["hits"], format, f"search-page-{data['page']}")

