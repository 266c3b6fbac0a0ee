"""Make LaTeX-ish source text readable: accents become letters, text macros lose their braces.

Maths (`$...$`) stays as written: it is readable to the people who search for it.
"""

from __future__ import annotations

import re
import unicodedata

_ACCENTS = {'"': "\u0308", "'": "\u0301", "`": "\u0300", "^": "\u0302", "~": "\u0303",
            "=": "\u0304", ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327"}
_ACCENT = re.compile(r"""\{?\\(["'`^~=.]|[uvHc](?=[{\s]))\s*\{?\\?([A-Za-z])\}?\}?""")
_LETTERS = {r"\ss": "ß", r"\o": "ø", r"\O": "Ø", r"\ae": "æ", r"\AE": "Æ", r"\aa": "å", r"\AA": "Å",
            r"\l": "ł", r"\L": "Ł", r"\i": "ı"}
_LETTER = re.compile(r"\{?(" + "|".join(re.escape(k) for k in sorted(_LETTERS, key=len, reverse=True)) + r")(?![A-Za-z])\}?")
_TEXT_MACRO = re.compile(r"\\(?:textit|textbf|emph|textrm|textsf|texttt|mathrm|text)\{([^{}]*)\}")


def readable(text: str) -> str:
    if "\\" not in text and "``" not in text:
        return text
    text = _ACCENT.sub(lambda m: unicodedata.normalize("NFC", m.group(2) + _ACCENTS[m.group(1)]), text)
    text = _LETTER.sub(lambda m: _LETTERS[m.group(1)], text)
    text = _TEXT_MACRO.sub(r"\1", text)
    return text.replace("``", "\u201c").replace("''", "\u201d")
