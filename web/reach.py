"""Where a work lives: DOI, arXiv abstract and PDF, open-access copy, PDF, landing page, OpenAlex.

Built from the work's DOI and the `links` its source record gave at ingest (`Work.links`); a work
whose source named none of them has no links (the seed records, for one).
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

# A DOI arXiv minted for a preprint names its arXiv id: 10.48550/arXiv.2101.00001
_ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.(.+)$", re.I)


ARXIV_ABS = "https://arxiv.org/abs/"


def work_links(doi: str | None, source_links: dict[str, str], title: str = "", venue: str | None = None) -> list[dict]:
    """Where to read a work, best first, one entry per distinct URL: `{kind, label, url}`.
    `source_links` is `WorkDoc.links`; an arXiv DOI (10.48550/arXiv.ID) counts as an arXiv id. A
    work the source places on arXiv without its id gets a title search on arXiv instead."""
    links = source_links or {}
    doi = (doi or "").removeprefix("https://doi.org/")
    match = _ARXIV_DOI.match(doi)
    arxiv = links.get("arxiv") or (match.group(1) if match else None)
    candidates = [
        ("doi", f"DOI {doi}", f"https://doi.org/{doi}" if doi else None),
        ("arxiv", f"arXiv {arxiv}", ARXIV_ABS + arxiv if arxiv else None),
        ("arxiv-pdf", "arXiv PDF", f"https://arxiv.org/pdf/{arxiv}" if arxiv else None),
        ("open-access", "Open-access copy", links.get("open_access")),
        ("pdf", "PDF", links.get("pdf")),
        ("landing", "Publisher page", links.get("landing")),
        ("openalex", "OpenAlex", links.get("openalex")),
    ]
    out, seen = [], set()
    for kind, label, url in candidates:
        if url and url.startswith(("https://", "http://")) and url not in seen:
            seen.add(url)
            out.append({"kind": kind, "label": label, "url": url})
    if not out and title and (venue or "").lower() == "arxiv":
        query = urlencode({"query": title, "searchtype": "title"})
        out.append({"kind": "arxiv-search", "label": "Find on arXiv by title", "url": f"https://arxiv.org/search/?{query}"})
    return out
