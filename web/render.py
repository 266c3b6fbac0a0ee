"""HTML rendering: one Jinja environment with autoescape on, and the few helpers templates use.

Everything is escaped unless a helper here says otherwise; the only markup inserted as-is is a
search highlight after `shapes.safe_highlight` (escaped text plus `<mark>` tags).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable
from urllib.parse import urlencode

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from web import admin_view
from web.richtext import markdown, plain_text, rich_text, tidy_highlight
from web.shapes import safe_highlight

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def highlight(snippet: str | None) -> Markup:
    """Markup of an engine highlight, re-checked so only <mark> tags survive."""
    return Markup(safe_highlight(snippet or ""))


def percent(value: float | None) -> str:
    return "–" if value is None else f"{round(value * 100)}%"


def score(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def excerpt(text: str | None, limit: int = 320) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def year_chart(rows: list[dict], width: int = 560, height: int = 160) -> dict:
    """Geometry of a bar chart of works per year, every year in the range shown (gaps as zero)."""
    if not rows:
        return {"bars": [], "width": width, "height": height, "max": 0}
    counts = {r["year"]: r["works"] for r in rows}
    years = list(range(min(counts), max(counts) + 1))
    if len(years) > 60:  # a very long range: only the years that have works
        years = sorted(counts)
    top = max(counts.values()) or 1
    pad_bottom, pad_top, pad_x = 22, 14, 18
    plot = height - pad_bottom - pad_top
    slot = (width - 2 * pad_x) / len(years)
    bar = max(2.0, min(slot * 0.7, 48.0))
    label_every = max(1, math.ceil(len(years) / 12))
    bars = []
    for i, year in enumerate(years):
        n = counts.get(year, 0)
        h = round(plot * n / top, 1)
        bars.append({
            "year": year,
            "works": n,
            "x": round(pad_x + i * slot + (slot - bar) / 2, 1),
            "y": round(pad_top + plot - h, 1),
            "w": round(bar, 1),
            "h": h,
            "label": i % label_every == 0 or i == len(years) - 1,
            "cx": round(pad_x + i * slot + slot / 2, 1),
        })
    return {"bars": bars, "width": width, "height": height, "max": top, "base": height - pad_bottom}


class Links:
    """Search URLs derived from the current query string: toggling a facet, changing a page."""

    def __init__(self, path: str, items: Iterable[tuple[str, str]]):
        self.path = path
        self.items = [(k, v) for k, v in items if v != ""]

    def _url(self, items: list[tuple[str, str]]) -> str:
        return self.path + ("?" + urlencode(items) if items else "")

    def has(self, key: str, value: str) -> bool:
        return (key, str(value)) in self.items

    def get(self, key: str, default: str = "") -> str:
        for k, v in self.items:
            if k == key:
                return v
        return default

    def toggle(self, key: str, value: str) -> str:
        value = str(value)
        base = [(k, v) for k, v in self.items if k != "page"]
        if (key, value) in base:
            return self._url([(k, v) for k, v in base if (k, v) != (key, value)])
        return self._url(base + [(key, value)])

    def year(self, year: str) -> str:
        """Filter to one year, or clear the year range when it is that year already."""
        base = [(k, v) for k, v in self.items if k not in ("page", "year_from", "year_to")]
        if self.get("year_from") == str(year) and self.get("year_to") == str(year):
            return self._url(base)
        return self._url(base + [("year_from", str(year)), ("year_to", str(year))])

    def without(self, *keys: str) -> str:
        return self._url([(k, v) for k, v in self.items if k not in keys and k != "page"])

    def set(self, **changes: object) -> str:
        items = [(k, v) for k, v in self.items if k not in changes and k != "page"]
        items += [(k, str(v)) for k, v in changes.items() if v is not None and v != ""]
        return self._url(items)

    def page(self, number: int) -> str:
        items = [(k, v) for k, v in self.items if k != "page"]
        if number > 1:
            items.append(("page", str(number)))
        return self._url(items)

    def api(self) -> str:
        return self._url(self.items).replace(self.path, "/api/search", 1) if self.path != "/api/search" else self._url(self.items)


def pages(current: int, last: int, around: int = 2) -> list[int | None]:
    """Page numbers to link, with None for a gap: 1 … 4 5 [6] 7 8 … 20."""
    shown = sorted({1, last, *range(max(1, current - around), min(last, current + around) + 1)})
    out: list[int | None] = []
    for n in shown:
        if out and out[-1] is not None and n - out[-1] > 1:
            out.append(None)
        out.append(n)
    return out


def no_nul(value: object) -> object:
    """Every `{{ }}` output: a NUL byte from user input (HTML forbids it) shows as U+FFFD, never raw."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


def make_templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template, whatever its extension
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=no_nul,
    )
    env.filters.update(highlight=highlight, percent=percent, score=score, excerpt=excerpt)
    env.filters.update(admin_view.FILTERS)
    env.filters.update(rich_text=rich_text, plain_text=plain_text, tidy_highlight=tidy_highlight, markdown=markdown)
    env.globals.update(year_chart=year_chart, pages=pages)
    return Jinja2Templates(env=env)


def render(request: Request, name: str, context: dict, status_code: int = 200, headers: dict | None = None):
    templates: Jinja2Templates = request.app.state.templates
    context = {"alternate": None, "page_title": None, "q": "", "kind": "works", **context}
    return templates.TemplateResponse(request, name, context, status_code=status_code, headers=headers)
