"""Turning text into search terms, the same way for every engine, the indexer and the service.

* One analysis (`tokens`, `stem`, `STOPWORDS`): runs of letters and digits, lower-cased and
  accent-folded, stemmed with the Porter algorithm. It is exactly what the embedded engine's FTS5
  tokenizer (`porter unicode61 remove_diacritics 2`) and the OpenSearch `discovery_english`
  analyzer (see `search.opensearch.ANALYSIS`) do, so "network" and "networks" match the same
  works on both engines (tests/test_text_analysis.py checks all three agree).
* Query text becomes a list of plain terms; an engine quotes each one, so nothing a user types
  (quotes, `*`, `:`, `-`, parentheses, AND/OR/NOT/NEAR) ever acts as query syntax.
* Names are folded (diacritics, case, punctuation, order) so "Ziyin Liu", "Liu Ziyin" and
  "LIU, Ziyín" compare equal, and a small similarity function ranks near-misses (typos, initials).
* Identifiers (ORCID, OpenAlex, OpenReview, dblp) are recognised in any pasted form and reduced
  to one canonical value, at index time and at query time alike.
* Highlights arrive from engines with private sentinel characters around matches; `mark` escapes
  the text for HTML *then* turns sentinels into `<mark>`, so document text can never inject markup.
"""

from __future__ import annotations

import html
import re
import sqlite3
import threading
import unicodedata
from functools import lru_cache

from rapidfuzz.distance import Indel
from unidecode import unidecode

from search.interface import MAX_QUERY_CHARS, BadQuery

MAX_TERMS = 1000
"""Distinct terms kept from one query: 10,000 characters of real abstracts hold about 500, so only
made-up text is cut; it keeps an OpenSearch query under the node's 1,024-clause limit."""
MAX_NAME_CHARS = 120
"""Names longer than this (after folding) are cut: no one's name is, and similarity is quadratic."""

# Common English function words: they match most documents, add almost nothing to BM25 and make
# large OR queries slow, so they are dropped unless the query has nothing else.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its itself just me
    more most my no nor not of off on once only or other our ours out over own same she should so
    some such than that the their theirs them then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you
    your yours via using use based towards toward""".split()
)

FTS5_TOKENIZER = "porter unicode61 remove_diacritics 2"
"""The embedded engine's tokenizer: `tokens` then `stem`, as SQLite implements them."""
_TERM = re.compile(r"[^\W_]+")  # runs of letters/digits: what FTS5's unicode61 tokenizer keeps
MARK_OPEN, MARK_CLOSE = "\x02", "\x03"
"""Sentinels an engine puts around matched text; never present in indexed text (see `clean_indexed`)."""


def check_text(text: str | None) -> str:
    """The query stripped of surrounding whitespace; BadQuery if it is not text or too long."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise BadQuery("query must be text")
    if len(text) > MAX_QUERY_CHARS:
        raise BadQuery(f"query is longer than {MAX_QUERY_CHARS} characters")
    return text.strip()


def words(text: str) -> list[str]:
    """Runs of letters and digits as written (case kept, for acronyms): the one rule every tokenizer uses."""
    return _TERM.findall(text)


def tokens(text: str) -> list[str]:
    """Lower-cased, accent-folded runs of letters and digits: everything else separates tokens."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _TERM.findall(folded)


class _Porter:
    """SQLite's own FTS5 porter stemmer, reached through an in-memory table and `fts5vocab`.

    Using the engine's stemmer (rather than a second implementation) keeps Python's stems equal to
    the embedded index's terms by construction; Lucene's `porter_stem` agrees with it on every word
    of CACM and CISI, while Snowball's "porter" differs on 55 of 16,376 (e.g. "-logy", "-bly").
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, tokenize='{FTS5_TOKENIZER}')")
        self._db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")

    def stems(self, words: list[str]) -> list[str]:
        with self._lock:
            self._db.execute("INSERT INTO t(rowid, x) VALUES (1, ?)", (" ".join(words),))
            found = dict(self._db.execute("SELECT offset, term FROM v"))
            self._db.execute("DELETE FROM t")
        return [found.get(i, w) for i, w in enumerate(words)]


_PORTER = _Porter()


@lru_cache(maxsize=100_000)
def stem(token: str) -> str:
    """The Porter stem of one token from `tokens` ("networks" -> "network", "learning" -> "learn")."""
    return _PORTER.stems([token])[0]


def analyze(text: str) -> list[str]:
    """What both engines index and match for `text`: stems of its tokens, stopwords dropped."""
    return [stem(t) for t in tokens(text) if t not in STOPWORDS]


def query_terms(text: str) -> list[str]:
    """Distinct terms of `text` in order (one word per stem), stopwords dropped unless nothing else is left.

    Everything that is not a letter or digit separates terms, so operators and punctuation vanish
    and words like AND/NEAR are ordinary terms. An empty list means "nothing to match on". Words
    are returned unstemmed, since each engine stems what it is given (stemming twice is not always
    a no-op). A pasted abstract keeps all its words (`MAX_TERMS` only cuts made-up text); the
    embedded engine bounds the cost by keeping the rarest terms (`search.embedded.plan_match`),
    OpenSearch by scoring only the top hits (`track_total_hits: false`).
    """
    by_stem: dict[str, str] = {}
    for token in tokens(text):
        by_stem.setdefault(stem(token), token)
    seen = list(by_stem.values())
    content = [t for t in seen if t not in STOPWORDS]
    return (content or seen)[:MAX_TERMS]


def fts5_query(terms: list[str], operator: str = "OR") -> str:
    """An FTS5 MATCH expression: every term a quoted string, joined by OR (default) or AND.

    OR by default because hybrid search is about ranking, not filtering: a long natural-language
    query still finds documents matching most of it, and documents matching more and rarer terms
    score higher. Double quotes inside a term are doubled, as FTS5 string syntax requires; the
    operator is ours, never the user's.
    """
    if operator not in ("OR", "AND"):
        raise ValueError(operator)
    return f" {operator} ".join('"' + term.replace('"', '""') + '"' for term in terms)


def clean_indexed(text: str | None) -> str:
    """Indexed text without the highlight sentinels (and other C0 controls besides whitespace)."""
    if not text:
        return ""
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", " ", text)


def mark(snippet: str) -> str:
    """HTML-escape an engine snippet, then turn the sentinels around matches into <mark> tags."""
    escaped = html.escape(snippet, quote=True)
    return escaped.replace(MARK_OPEN, "<mark>").replace(MARK_CLOSE, "</mark>")


def escape(text: str | None) -> str:
    return html.escape(text or "", quote=True)


# -- names ------------------------------------------------------------------------------------


def normalize_name(name: str) -> str:
    """The one name normaliser (search, both engines, identity): ASCII-folded, lower-case,
    apostrophes dropped, other punctuation as spaces, so a hyphenated given name keeps its parts:
    "Lóuis-Philippe  O'BRIEN" -> "louis philippe obrien", "Zi-Yin Liu" -> "zi yin liu"."""
    folded = unidecode((name or "")[: MAX_NAME_CHARS * 4]).lower()
    folded = re.sub(r"['\u2019`]", "", folded)
    return " ".join(re.findall(r"[a-z0-9]+", folded))[:MAX_NAME_CHARS].strip()


def comma_order(name: str) -> str:
    """A bibliography's "Family, Given" as "Given Family" ("Li, Z." -> "Z. Li"); other text unchanged."""
    family, sep, given = (name or "").partition(",")
    return f"{given.strip()} {family.strip()}" if sep and given.strip() and family.strip() else name or ""


def name_forms(name: str) -> list[str]:
    """The normalised name in given order and with the last token moved first ("liu ziyin" <-> "ziyin liu")."""
    norm = normalize_name(name)
    if not norm:
        return []
    tokens = norm.split()
    forms = [norm]
    if len(tokens) > 1:
        forms.append(" ".join([tokens[-1], *tokens[:-1]]))
        forms.append(" ".join([*tokens[1:], tokens[0]]))
    return list(dict.fromkeys(forms))


def name_keys(name: str) -> list[str]:
    """Exact lookup keys a researcher's name is indexed under, so a correctly typed name is found by
    equality before any fuzzy search: its tokens in any order ("liu ziyin"), the first and last
    name without middle names ("jordan michael" for "Michael I. Jordan"), and initials plus family
    name for each reading order ("z liu", "l ziyin"). `query_name_keys` gives a query's keys."""
    return _keys(normalize_name(name).split(), typed=False)


def query_name_keys(text: str) -> list[str]:
    """The `name_keys` a typed name must share with a researcher's name to be an exact match. Initials
    count only when the query is written with them ("Z. Liu", "Liu, Z."): "Michael Jordan" is not
    an exact match for every "M. Jordan"."""
    return _keys(normalize_name(comma_order(text)).split(), typed=True)


def _keys(tokens: list[str], typed: bool) -> list[str]:
    if not tokens:
        return []
    keys = [" ".join(sorted(tokens))]
    if len(tokens) > 2:
        keys.append(" ".join(sorted([tokens[0], tokens[-1]])))
    for form in name_forms(" ".join(tokens)):
        *given, family = form.split()
        if given and len(family) > 1 and (not typed or all(len(t) == 1 for t in given)):
            keys.append(" ".join([*(t[0] for t in given), family]))
    return list(dict.fromkeys(keys))


def _ratio(a: str, b: str) -> float:
    """Similarity in [0, 1] from the insertion/deletion distance (difflib's ratio, computed by rapidfuzz)."""
    return Indel.normalized_similarity(a, b)


def _token_score(query_token: str, name_token: str) -> float:
    """A single letter (an initial, with or without its period) fully matches a token it starts."""
    if len(query_token) == 1 or len(name_token) == 1:
        return 0.9 if query_token[0] == name_token[0] else 0.0
    return _ratio(query_token, name_token)


def name_similarity(query: str, name: str) -> float:
    """How well a typed name matches a researcher's name, in [0, 1], ignoring order and diacritics.

    The best of: whole-string similarity in any order (catches typos such as "Ziyn Liu", and
    "Ziyin" against "Zi-Yin" by ignoring spaces), and a per-token match that accepts initials
    ("Z. Liu"), discounted when the query names only part of the person ("Salakhutdinov" alone
    still finds him, but ranks below a full-name match). A comma fixes the order ("Li, Z." is
    family name Li): then only the name read given-first counts in full.
    """
    if "," in (query or ""):
        q, n = normalize_name(comma_order(query)), normalize_name(name)
        if not q or not n:
            return 0.0
        in_order = _ordered_similarity(q.split(), n.split())
        other = max((_ordered_similarity(q.split(), f.split()) for f in name_forms(n)[1:]), default=0.0)
        return round(max(in_order, 0.9 * other), 4)
    q, n = normalize_name(query), normalize_name(name)
    if not q or not n:
        return 0.0
    q_tokens, n_tokens = q.split(), n.split()
    whole = max(_ratio(" ".join(sorted(q_tokens)), " ".join(sorted(n_tokens))), *(_ratio(q, f) for f in name_forms(n)),
                *(_ratio(q.replace(" ", ""), f.replace(" ", "")) for f in name_forms(n)))
    per_token = sum(max(_token_score(t, u) for u in n_tokens) for t in q_tokens) / len(q_tokens)
    coverage = min(1.0, len(q_tokens) / len(n_tokens))
    return round(max(whole, per_token * (0.8 + 0.2 * coverage)), 4)


def _ordered_similarity(q_tokens: list[str], n_tokens: list[str]) -> float:
    """Family names (last tokens) must match; given names are compared in order, initials accepted."""
    family = _ratio(q_tokens[-1], n_tokens[-1]) if len(q_tokens[-1]) > 1 else 0.0
    given_q, given_n = q_tokens[:-1], n_tokens[:-1]
    if not given_q or not given_n:
        return family * (0.8 if given_q or given_n else 1.0)
    given = sum(_token_score(a, b) for a, b in zip(given_q, given_n)) / len(given_q)
    return family * (0.5 + 0.5 * given)


_NAME_TOKEN = re.compile(r"[^\W\d_]+(?:['’.-][^\W\d_]*)*\.?")
_NAME_PARTICLES = frozenset({"van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "le", "la", "bin", "al", "el"})


def looks_like_name(text: str) -> bool:
    """One to five letter-only words, at most half of them common English function words: plausibly
    a person ("Kaiming He", "Been Kim", "Michael I. Jordan"; not "attention is all you need").
    Only a hint: the service answers by name only when a name matches strongly."""
    tokens = text.replace(",", " ").split()
    if not 1 <= len(tokens) <= 5:
        return False
    if not all(_NAME_TOKEN.fullmatch(token) for token in tokens):
        return False
    function_words = sum(1 for t in tokens if t.lower().strip(".") in STOPWORDS and t.lower() not in _NAME_PARTICLES)
    return function_words * 2 <= len(tokens) and function_words < len(tokens)


# -- identifiers ------------------------------------------------------------------------------

_ORCID = re.compile(r"(?:https?://)?(?:www\.)?(?:orcid\.org/)?(\d{4})-?(\d{4})-?(\d{4})-?(\d{3}[\dXx])/?", re.I)
_OPENALEX = re.compile(r"(?:https?://)?(?:api\.)?(?:openalex\.org/)?(?:authors/)?(A\d{4,})/?", re.I)
_OPENREVIEW = re.compile(r"(?:https?://)?(?:www\.)?(?:openreview\.net/profile\?id=)?(~[^\s/?#&]+)", re.I)
_DBLP = re.compile(r"(?:https?://)?(?:www\.)?dblp\.(?:org|uni-trier\.de)/pid/([^\s?#]+?)(?:\.html)?/?", re.I)
IDENTIFIER_KINDS: tuple[str, ...] = ("orcid", "openalex", "openreview", "dblp")


def normalize_identifier(kind: str, value: str | None) -> str | None:
    """The canonical form of an identifier of a known kind (bare ORCID with dashes, `A123`, `~Name1`, dblp pid)."""
    if not value:
        return None
    value = value.strip()
    if kind == "orcid":
        m = _ORCID.fullmatch(value)
        return "-".join(m.groups()).upper() if m else None
    if kind == "openalex":
        m = _OPENALEX.fullmatch(value)
        return m.group(1).upper() if m else None
    if kind == "openreview":
        m = _OPENREVIEW.fullmatch(value)
        return m.group(1) if m else None
    if kind == "dblp":
        m = _DBLP.fullmatch(value)
        return m.group(1) if m else (value if re.fullmatch(r"[\w-]+/[\w-]+", value) else None)
    return value


def parse_identifier(text: str) -> tuple[str, str] | None:
    """`(kind, canonical value)` when the whole text is one pasted identifier, else None."""
    text = text.strip()
    if not text or " " in text:
        return None
    for kind in IDENTIFIER_KINDS:
        if kind == "dblp" and "dblp" not in text.lower():
            continue  # a bare "a/b" is too ambiguous to call a dblp id
        value = normalize_identifier(kind, text)
        if value:
            return kind, value
    return None
