"""Source text and our own docs as safe HTML. Abstracts and titles: markup a source put in (JATS, `<h2>Abstract</h2>`, `<p>`)
is reduced by nh3 (the Ammonia sanitiser) to a few text-structure tags; everything else is escaped.

Markdown (the API descriptions on /docs) goes through markdown-it with raw HTML off.
LaTeX stays as written (`$...$`): KaTeX renders it in the browser from our own static files
(`web/static/katex/`, installed by scripts/venv.sh), and without JavaScript it reads as source.
"""

from __future__ import annotations

import html
import re

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

# Only text that really carries markup goes through the sanitiser: in plain text `a<b` is maths.
_MARKUP = re.compile(r"</?(?:p|br|h[1-6]|i|b|em|strong|sub|sup|ul|ol|li|div|span|jats:[a-z-]+)\b[^>]*>", re.I)
_HEADING = re.compile(r"<(jats:)?(h[1-6]|title)\b[^>]*>(.*?)</\1?\2>", re.I | re.S)
_JATS = re.compile(r"<(/?)jats:(p|sub|sup|italic|bold|sec)\b[^>]*>", re.I)
_JATS_TAGS = {"p": "p", "sub": "sub", "sup": "sup", "italic": "em", "bold": "strong", "sec": "p"}
_BLOCK_END = re.compile(r"</(?:p|li|h[1-6]|div|jats:p|jats:sec|jats:title)>|<br\s*/?>", re.I)
_ESCAPED_MARKUP = re.compile(r"&lt;/?(?:p|br|h[1-6]|i|b|em|strong|sub|sup|ul|ol|li|div|span|jats:[a-z-]+)\b.*?&gt;", re.I)
TAGS = {"p", "br", "em", "strong", "i", "b", "sub", "sup", "ul", "ol", "li"}


def _heading(match: re.Match) -> str:
    """A heading inside an abstract: dropped when it only says "Abstract", else a bold line."""
    text = match.group(3).strip()
    return "" if text.rstrip(":").lower() == "abstract" else f"<p><strong>{text}</strong></p>"


def rich_text(text: str | None) -> Markup:
    """`text` as HTML safe to insert: escaped, or sanitised to text structure when it has markup."""
    text = text or ""
    if not _MARKUP.search(text):
        return escape(text)
    text = _HEADING.sub(_heading, text)
    text = _JATS.sub(lambda m: f"<{m.group(1)}{_JATS_TAGS[m.group(2).lower()]}>", text)
    return Markup(nh3.clean(text, tags=TAGS, attributes={}, link_rel=None).strip())


def plain_text(text: str | None) -> str:
    """`text` without any markup a source put in (for snippets), blocks separated by a space."""
    text = text or ""
    if not _MARKUP.search(text):
        return text
    text = _BLOCK_END.sub(" ", _HEADING.sub(_heading, text))
    return " ".join(html.unescape(nh3.clean(text, tags=set())).split())


def tidy_highlight(snippet: Markup) -> Markup:
    """An engine highlight (escaped text with <mark>) without the escaped tags of source markup."""
    return Markup(_ESCAPED_MARKUP.sub(" ", str(snippet)))


_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False})


def markdown(text: str | None) -> Markup:
    """Our own markdown (docstrings, the API description) as HTML; raw HTML in it stays text."""
    return Markup(_MARKDOWN.render(text or ""))
