"""Researcher identity: which author mentions are the same person.

Names are compared after `search.text.normalize_name` (the one name normaliser) and read both ways,
given names first or family name first. Two names *agree* when, in some reading, the family names
are equal and the given names agree: the same given names written together or apart ("Zi-Yin",
"Zi Yin", "Ziyin"), an initial against a name it starts ("M. Ueda", "Masahito Ueda"), a middle name
or initial present on one side only ("Michael I. Jordan", "Michael Jordan"). Syllables never move
across the family/given boundary: "Xilin Chen" and "Chenxi Lin" are two people. A full middle name
is not one when the corpus writes the given names as one word: "Xiang Yang Li" is "Xiangyang Li",
never "Xiang Li" (rule 4 refuses that pair whatever the evidence).

Rules, in order (each has a test in tests/test_identity.py or tests/test_identity_recall.py; each link
records which one made it):
1. Mentions sharing a source identifier (ORCID, OpenAlex, OpenReview, dblp) are one researcher
   (provenance: the identifier kind, confidence 1.0) -- if their names are *compatible*: in some
   reading the family names match (equal, or near-equal spellings such as "Schütze"/"Schuetze")
   and the given names do not contradict (one starts the other, or either is missing). Source
   ids are sometimes shifted onto a co-author: a mention whose name is incompatible with the
   id's most frequent name (ties: the name an OpenReview id spells) is not merged; it loses that id and is recorded as a `Conflict`
   (shown on both researchers' records and lowering their trust score).
2. Mentions carrying *different* identifiers of one kind are never merged.
3. Two mentions on the same work are never one researcher.
4. Otherwise all names of both clusters must agree (or be short forms, last item) and the evidence
   must agree too (a matching name alone never merges), strongest first:
   * `name+coauthor` (0.95): a shared co-author (middle initials left out: "Kilian Q. Weinberger"
     is "Kilian Weinberger"); for a common name (rule 5) two shared co-authors, or one with a rare
     name (few people share a rare co-author by chance);
   * `name+affiliation` (0.9): a shared affiliation (each institution of an affiliation the source
     joins with "+", as written or as its university without department, address and an
     abbreviation in parentheses, "&" read "and": `institution_keys`); for a common name the works
     must also be on related topics (centroid cosine >= AFFILIATION_TOPIC_THRESHOLD) or, unless the
     name is very common or initials, published within AFFILIATION_YEARS_APART years of each
     other: one stay at one institution (ml-venues' Sheng Liu at Stanford, 2024 and 2025, on
     unrelated topics), while over more years an institution holds several cohorts, and people of
     one common name among them;
   * `name+coauthor-affiliation` (0.85): a work listing no affiliation for this author is placed
     where its co-authors of rare name were that year (their affiliations on works within a year:
     `coauthor_places`; ml-venues' COLM records list none): when one side is such a lone work and
     its places meet the other side's own affiliations (or places, when it is such a work too), on
     related topics (centroid cosine >= AFFILIATION_TOPIC_THRESHOLD), whatever the name's band.
     Only a lone work borrows: a record grown from many works borrows its co-authors' institutions
     too widely (ml-venues' WeChat "Jie Zhou", writing with Tsinghua's NLP group, would join
     Tsinghua's computer-vision Jie Zhou), and so does a team of more than
     COAUTHOR_PLACE_MAX_AUTHORS (Deep Speech 2's 60 authors place "Yi Wang" nearly anywhere);
   * `name+topic`: the clusters' centroids (mean work vector) have cosine >= TOPIC_THRESHOLD
     for a rare name, COMMON_NAME_TOPIC_THRESHOLD for a common one (INITIALS_TOPIC_THRESHOLD
     when one name is initials only, unless both clusters carry one rare full name: initials that
     evidence already joined to it, "T. J. Sejnowski", weaken nothing; initials beside one rare
     full name compare the closest works, not the centroids: a grown record's centroid is near none
     of its works, so the merge would depend on whether the record had formed); for a very common name
     (VERY_COMMON_NAME_PEOPLE or more
     would carry it by chance) only when one side is a lone work sharing a co-author (any name)
     with the other, or two records published in years that do not overlap (one person who moved).
     A lone work's field alone picks among several same-named people of that field: ml-venues'
     Tsinghua "Yang Liu" paper with Peng Li joined the Amazon Yang Liu at 0.66 (Microsoft's at
     0.57). Two records of a very common name, each built on
     its own co-authors or affiliations and publishing at the same time, are as often two people of
     one field as one (ml-venues' Tsinghua, Microsoft and Amazon "Yang Liu"s, all NLP, 2021-2022,
     have centroid cosines of 0.72-0.74);
   * `rare-name+topic`: cosine >= RARE_NAME_TOPIC_THRESHOLD when the name is rare, between the
     centroids or between the closest two works (someone who changed fields keeps a rare name,
     while the centroid of their earlier record sits far from the new field); never for a
     two-word name the corpus also writes with middle names of different initials
     (SHORTENED_NAME_MIDDLES; particles and suffixes aside): ml-venues' "Tuan Nguyen" agrees with
     Tuan Duong, Tuan Minh, Tuan-Anh and Tuan-Duy H. Nguyen, who do not agree with each other; one
     field does not pick among them, and the first pair tested took the record (the others' names
     then no longer fit). A rare full name both sides carry, other than such a name, still joins
     ("Cuong V. Nguyen" beside a record of his that also holds "Cuong Nguyen").
   * `short-form+coauthor` (0.9): one name's first given name is a short form (a prefix of at least
     SHORT_FORM_MIN_LETTERS letters) of the other's, "Anima"/"Animashree Anandkumar", the family
     names equal: only on SHORT_FORM_COAUTHORS shared co-authors and a shared affiliation or related
     topics (centroid cosine >= TOPIC_THRESHOLD), never on one kind of evidence. Chinese and Korean
     given names are often syllable prefixes of other people's ("Jian"/"Jianwen Xie"), so the name
     is never enough, and no short form is one when the short name is a COMMON_NAME_PARTS syllable
     ("Min"/"Mingming Zhang") or the rest of the long name is a name part of its own
     ("Xian"+"gang Li", "Xiang"+"yang Li": in NAME_PART_MENTIONS names or more).
5. A name is rare when fewer than RARE_NAME_EXPECTED_PEOPLE people would carry it by chance
   (given and family names independent, corpus counts, never below MIN_POPULATION mentions),
   and never when made only of COMMON_NAME_PARTS; otherwise it is common.

At scale: mentions are blocked by (family name, first given initial) in both readings; inside a
block, candidate pairs come from sub-blocks (shared co-author, shared affiliation; a large one pairs
only clusters whose names can fit) and from one centroid per cluster (a block's centroids compared
in one matrix product, each cluster's TOPIC_NEIGHBOURS nearest kept; clusters of one rare name are
paired when their centroids or closest works are related, found in small tiled products of the
rare names' work vectors), never from re-stacking every work vector. Passes repeat until no merge
happens (a few passes; each is near-linear in the
block's mentions apart from the centroid product); a pass skips the pairs an earlier pass found no
evidence for while neither cluster has grown since. A merge is tested against the clusters as they
are when it is made: evidence found before either side grew this pass is looked at again.
Researcher ids are remembered per mention, so rebuilding keeps every id a user may have linked to.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from itertools import combinations
from pathlib import Path
from types import MappingProxyType
from typing import Collection, Iterable, Mapping

import numpy as np
import pycountry
from rapidfuzz.distance import Indel
from threadpoolctl import threadpool_limits

from indexer.heap import collector_paused
from models.records import Work, researcher_id
from search.text import normalize_name

TOPIC_THRESHOLD = 0.5  # centroid cosine for topical evidence
COMMON_NAME_TOPIC_THRESHOLD = 0.65  # a common name: topic alone must be close (one field holds many Yang Lius)
RARE_NAME_TOPIC_THRESHOLD = 0.25  # same broad field: enough when few people carry the name
INITIALS_TOPIC_THRESHOLD = 0.6  # an initial-only name needs stronger topical evidence
AFFILIATION_TOPIC_THRESHOLD = 0.3  # a common name at a shared (often large) institution: related topics too
COAUTHOR_PLACE_YEARS = 1  # a co-author's affiliations this many years either side of a work place the work
COAUTHOR_PLACE_MAX_AUTHORS = 10  # a larger team spans institutions: its co-authors' places do not place one author
AFFILIATION_YEARS_APART = 5  # ... or published within this many years of each other there (one stay, e.g. a PhD; not two cohorts)
TOPIC_NEIGHBOURS = 20  # nearest centroids tested per cluster in a block: keeps big blocks near-linear
NAME_SUB_BLOCK_MIN = 16  # a co-author or affiliation group larger than this pairs only clusters whose names can fit
RARE_BATCH_ROWS = 64  # side of one rare-name product: many small groups share one, a larger group is tiled
TOLERANCE = 1e-4  # cosine margin of candidate filters: float32 products differ in the last bits
FAMILY_SPELLING_SIMILARITY = 0.85  # "schutze"/"schuetze": one source id, one family name
RARE_NAME_EXPECTED_PEOPLE = 0.5
VERY_COMMON_NAME_PEOPLE = 5  # people expected to carry a name by chance before topic alone stops joining its records
MIN_POPULATION = 10_000
# Name parts so frequent worldwide that a small corpus cannot show it: a name made only of these
# is never treated as rare (e.g. "Wei Wang"), whatever the corpus counts say.
COMMON_NAME_PARTS = frozenset(
    """wang li zhang liu chen yang huang zhao wu zhou xu sun ma zhu hu guo he lin gao luo zheng liang
    xie song tang han feng deng cao peng zeng xiao tian dong pan yuan cai jiang yu du ye cheng wei
    jing yan min jun hui jie lei yi xin tao bin hao jian ying ping hong ling fang kim lee park choi
    jung kang cho yoon nguyen tran pham le singh kumar sharma gupta patel shah smith johnson williams
    brown jones miller davis garcia rodriguez martinez hernandez lopez gonzalez david john michael
    james robert maria daniel thomas""".split()
)
SHORTENED_NAME_MIDDLES = 2  # middle names of different initials under one two-word name: several people write it
NAME_PARTICLES = frozenset("van von der den de da di del della dos das du bin ibn al el ter ten".split())  # not middle names
NAME_SUFFIXES = frozenset("jr sr ii iii iv".split())  # "John W. Fisher III": not a family name
SHORT_FORM_MIN_LETTERS = 3  # "Dan"/"Daniel"; shorter prefixes are initials or fragments
SHORT_FORM_COAUTHORS = 2  # shared co-authors a short-form pair needs (on top of affiliation or topic)
NAME_PART_MENTIONS = 10  # a word in this many names is a name part: "Xian"+"gang" is a name, not a short form
FOOTNOTE_CATEGORIES = ("So", "Sm", "No")  # symbols ("♣", "∗") and superscript digits ("³") in an affiliation mark a footnote
# Words of a university's own name ("Universität Tübingen", "Politecnico di Milano"), and the words a
# sub-unit's name starts with ("Department of ..., Tsinghua University"): see `_institution_keys`.
UNIVERSITY_WORDS = frozenset("university universitat universite universidad universita universiteit universidade univ "
                             "politecnico polytechnique".split())
SUB_UNIT_WORDS = frozenset("department dept school faculty division".split())
PARENTHETICAL = re.compile(r"\(([^()]*)\)")  # "(KAUST)": dropped from the university key when it abbreviates the name
COUNTRY_SHORT_FORMS = frozenset({"uk", "korea", "republic of korea", "russia", "pr china", "p r china", "ksa", "uae"})
ID_KINDS = ("orcid", "openalex", "openreview", "dblp")
NO_KEYS: frozenset[str] = frozenset()  # one empty set shared by every mention without affiliations
NO_IDS: Mapping[str, str] = MappingProxyType({})  # one read-only empty mapping shared by every mention without source ids


def name_tokens(name: str) -> list[str]:
    """'Zi-Yin  LIU' -> ['zi', 'yin', 'liu'] (the one normaliser, split)."""
    return normalize_name(name).split()


def name_key(name: str) -> str:
    """Order-insensitive key: 'Liu Ziyin' and 'Ziyin Liu' agree."""
    return " ".join(sorted(name_tokens(name)))


def coauthor_key(name: str) -> str:
    """A co-author's key, middle initials left out ("Peter I. Frazier" is "Peter Frazier"): sources
    often drop them, and a co-author is evidence only beside an agreeing name of its own."""
    tokens = name_tokens(name)
    return " ".join(sorted(t for i, t in enumerate(tokens) if len(t) > 1 or i in (0, len(tokens) - 1)))


def readings(tokens: list[str]) -> list[tuple[str, list[str]]]:
    """(family, given names) read given-first, then family-first. Family-first is not a reading of
    a name whose initials sit between full names ("Joshua B. Tenenbaum" is not family name Joshua)."""
    if len(tokens) < 2:
        return [(tokens[0], [])] if tokens else []
    out = [(tokens[-1], tokens[:-1])]
    given = tokens[1:]
    if all(len(t) > 1 for t in given) or all(len(t) == 1 for t in given):
        out.append((tokens[0], given))
    return out


def is_abbreviated(tokens: list[str]) -> bool:
    return len(tokens) >= 2 and all(len(t) == 1 for t in tokens[:-1]) and len(tokens[-1]) > 1


def _token_fits(a: str, b: str) -> bool:
    """Equal, or one is an initial of the other."""
    return a == b or (len(a) == 1 and b.startswith(a)) or (len(b) == 1 and a.startswith(b))


def givens_agree(a: list[str], b: list[str]) -> bool:
    """Same given names, written together or apart, with initials for names and a middle name or
    initial allowed on one side only; the first given names must fit each other."""
    if "".join(a) == "".join(b):
        return True
    if not a or not b or not _token_fits(a[0], b[0]):
        return False
    if len(a[0]) > 1 and len(b[0]) > 1 and a[0] != b[0]:
        return False
    middle_a, middle_b = a[1:], b[1:]
    if not middle_a or not middle_b:
        return True
    return len(middle_a) == len(middle_b) and all(_token_fits(x, y) for x, y in zip(middle_a, middle_b))


def names_agree(a: list[str], b: list[str]) -> bool:
    """Rule 4's name test (see the module docstring)."""
    return _names_agree(tuple(a), tuple(b))


@lru_cache(maxsize=1 << 20)
def _names_agree(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    if a == b:
        return True
    return any(fa == fb and ga and gb and givens_agree(ga, gb) for fa, ga in readings(list(a)) for fb, gb in readings(list(b)))


def is_short_form(a: list[str], b: list[str]) -> bool:
    """Rule 4's short-form test: equal family names, one first given name a proper prefix of the
    other's ("Anima"/"Animashree"), any further given names initials that fit."""
    return _short_form(tuple(a), tuple(b)) is not None


@lru_cache(maxsize=1 << 20)
def _short_form(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, str] | None:
    """(short, long) first given names when `a` and `b` are short and long forms of one name."""
    for fa, ga in readings(list(a)):
        for fb, gb in readings(list(b)):
            if fa != fb or not ga or not gb or any(len(t) > 1 for t in ga[1:] + gb[1:]):
                continue
            short, long = sorted((ga[0], gb[0]), key=len)
            if SHORT_FORM_MIN_LETTERS <= len(short) < len(long) and long.startswith(short):
                if not ga[1:] or not gb[1:] or ga[1:] == gb[1:]:
                    return short, long
    return None


@lru_cache(maxsize=1 << 20)
def _split_given(a: tuple[str, ...], b: tuple[str, ...]) -> str | None:
    """The given names written as one word ("xiangyang") when `a` and `b` agree only because one
    side has full given names the other lacks ("Xiang Li" / "Xiang Yang Li")."""
    for fa, ga in readings(list(a)):
        for fb, gb in readings(list(b)):
            short, long = sorted((ga, gb), key=len)
            if fa == fb and len(short) == 1 < len(long) and long[0] == short[0] and all(len(t) > 1 for t in long[1:]):
                return "".join(long)
    return None


def names_compatible(a: list[str], b: list[str]) -> bool:
    """Rule 1's looser test: family names match in some reading and the given names do not contradict."""
    for fa, ga in readings(a):
        for fb, gb in readings(b):
            if fa != fb and not (min(len(fa), len(fb)) >= 4 and Indel.normalized_similarity(fa, fb) >= FAMILY_SPELLING_SIMILARITY):
                continue
            if not ga or not gb or any(x.startswith(y) or y.startswith(x) for x in ga for y in gb):
                return True
    return False


def id_name(kind: str, value: str) -> list[str]:
    """The name tokens an identifier spells: an OpenReview id is its owner's name ("~Sergio_Casas_Romero1");
    other kinds spell none ([])."""
    return name_tokens(value.lstrip("~").rstrip("0123456789").replace("_", " ")) if kind == "openreview" else []


def institution_keys(name: str) -> set[str]:
    """Keys of the institutions an affiliation names (see `_institution_keys`): ml-venues joins several
    with "+" ("Google+Tel Aviv University" shares Tel Aviv University with the person's other works)."""
    return {k for part in name.split("+") for k in _institution_keys(part) if k}


@lru_cache(maxsize=1 << 16)
def _institution_keys(part: str) -> tuple[str, str]:
    """One institution written two ways: as a whole, and as its university without the sub-unit
    before it or the address after it. Sources write one place as "Department of Computer Science
    and Information Engineering, National Taiwan University, Taiwan" and as "National Taiwan
    University". Footnote marks are not part of a name ("Penn State University♣" folds to "penn
    state universityclubs"), nor is a leading "The". What follows the university is kept unless it
    is an address (a country, a US state, a postcode, a place its name holds: "Stanford University,
    Stanford, CA, USA"): "University of California, Irvine" is one campus, not the whole system.
    The university also drops an abbreviation of its name in parentheses ("... (KAUST)") and reads
    "&" as "and" ("Science & Technology"): `_without_abbreviations`."""
    if not part.isascii():
        part = "".join(" " if unicodedata.category(c) in FOOTNOTE_CATEGORIES or c in "§¶" else c for c in part)
    whole = normalize_name(part)  # as before: cut at MAX_NAME_CHARS, so long strings match on their start
    whole = whole[4:] if whole.startswith("the ") else whole
    university = _without_abbreviations(part).replace("&", " and ")
    segments = [k[4:] if k.startswith("the ") else k for s in university.split(",") if (k := normalize_name(s))]
    segments = segments[next((i for i, s in enumerate(segments) if _names_university(s)), 0):]
    while len(segments) > 1 and (segments[-1] in _places() or any(c.isdigit() for c in segments[-1])
                                 or set(segments[-1].split()) <= set(segments[0].split())):
        segments.pop()
    return whole, " ".join(segments)


def _without_abbreviations(part: str) -> str:
    """`part` without the parentheticals that abbreviate the name before them: "King Abdullah
    University of Science and Technology (KAUST)" is the university written without "(KAUST)" too.
    Only an abbreviation goes (`_abbreviates`), since it adds nothing the name does not say; any
    other parenthetical may tell places apart and stays: a campus ("Harbin Institute of Technology
    (Shenzhen)", "(GZ)"), a parent body ("(Shandong Academy of Sciences)", as the comma form writes
    it too), something else than the name ("University of Montreal (MILA)")."""
    if "(" not in part:
        return part
    return PARENTHETICAL.sub(lambda m: " " if _abbreviates(m.group(1), part[: m.start()]) else m.group(0), part)


def _abbreviates(short: str, name: str) -> bool:
    """`short` is one word whose letters are, in order, initials of words of `name` ("KAUST", "EPFL",
    "ICT/CAS" for "... Institute of Computing Technology, Chinese Academy of Sciences")."""
    letters = normalize_name(short).replace(" ", "")
    if len(short.split()) != 1 or len(letters) < 2 or not letters.isalpha():
        return False
    initials = iter(word[0] for word in normalize_name(name).split())
    return all(letter in initials for letter in letters)


def _names_university(segment: str) -> bool:
    """A university's own name, not one of its sub-units ("School of Computing, ...", "College of ...")."""
    words = segment.split()
    return words[0] not in SUB_UNIT_WORDS and (not UNIVERSITY_WORDS.isdisjoint(words) or "institute of technology" in segment
                                                or ("college" in words and words[0] != "college"))


@lru_cache(maxsize=1)
def _places() -> frozenset[str]:
    """Normalised country names (ISO 3166, with the usual short forms) and US states, names and codes."""
    countries = {v for c in pycountry.countries for f in ("name", "common_name", "official_name", "alpha_3") if (v := getattr(c, f, None))}
    states = {v for s in pycountry.subdivisions.get(country_code="US") for v in (s.name, s.code.removeprefix("US-"))}
    return frozenset({normalize_name(v) for v in countries | states} | COUNTRY_SHORT_FORMS)


@dataclass(slots=True)
class Mention:
    """One author of one work. Slots, and fields shared between mentions wherever equal (one tuple per
    distinct name, one set per distinct affiliation set, interned strings): a build holds millions."""

    key: str  # "<work id>#<position>"
    work_id: str
    name: str
    tokens: tuple[str, ...]
    identifiers: Mapping[str, str]  # NO_IDS when none
    institutions: frozenset[str]
    authors: frozenset[str]  # `coauthor_key`s of every author on the work, this one's too: one set shared by the work's mentions
    own_key: str  # this author's `coauthor_key`


@dataclass(slots=True)
class Member:
    """A researcher's mention as the stages after identity read it: what `Mention` carries for the
    rules (tokens, affiliation keys, the work's co-author keys) goes with identity, and so do the
    per-work co-author sets and name tuples only the rules held (about 230 bytes a mention)."""

    key: str  # "<work id>#<position>"
    work_id: str
    name: str
    identifiers: Mapping[str, str]  # NO_IDS when none


@dataclass(slots=True)
class Link:
    researcher_id: str
    method: str
    confidence: float


@dataclass(frozen=True)
class Conflict:
    """A source id carried by a mention whose name is incompatible with the id's usual name."""

    kind: str
    value: str
    id_name: str  # the most frequent name among the id's mentions
    mention_name: str
    mention_key: str

    def describe(self) -> str:
        work = self.mention_key.rsplit("#", 1)[0]
        return f"{self.kind} {self.value} belongs to {self.id_name!r} but also appears on {self.mention_name!r} (work {work})"


@dataclass
class Resolution:
    """Mention -> researcher link, each researcher's mentions, and the id conflicts found."""

    links: dict[str, Link] = field(default_factory=dict)
    members: dict[str, tuple[Member, ...]] = field(default_factory=dict)  # a tuple: most researchers have one mention
    conflicts: list[Conflict] = field(default_factory=list)
    blocks: int = 0  # name blocks of more than one mention
    resolved_blocks: int = 0  # of those, the blocks rule 4 compared pairs in (all, unless incremental)

    def conflicts_of(self) -> dict[str, list[str]]:
        """Researcher id -> descriptions of the conflicts that touch it (the id's owner and the mention's)."""
        out: dict[str, list[str]] = defaultdict(list)
        owner = {}
        for rid, members in self.members.items():
            for m in members:
                for kind, value in m.identifiers.items():
                    owner[(kind, value)] = rid
        for c in self.conflicts:
            text = c.describe()
            for rid in {owner.get((c.kind, c.value)), self.links[c.mention_key].researcher_id} - {None}:
                out[rid].append(text)
        return dict(out)


def mentions_of(works: Iterable[Work]) -> list[Mention]:
    """One mention per named author (`work_mentions`), in the order of `works`."""
    shared: dict = {}
    return [m for work in works for m in work_mentions(work, shared)]


def work_mentions(work: Work, shared: dict) -> list[Mention]:
    """One work's mentions, one per named author. The work's author keys are kept once per work, not
    once per mention without its own key: a work with n authors would cost n^2 keys (2,831 arXiv
    authors: 748 MB). Equal token tuples and affiliation sets are one object (`shared`, one dict for
    a build), their strings interned: most names and institutions recur, so memory grows with the
    distinct ones (issue 14: about 3.5 KB per mention before)."""
    keys = [sys.intern(coauthor_key(a.name)) for a in work.authorships]
    authors = frozenset(k for k in keys if k)
    mentions = []
    for a, own in zip(work.authorships, keys):
        tokens = tuple(map(sys.intern, name_tokens(a.name)))
        if not tokens:
            continue
        institutions = frozenset(sys.intern(k) for i in a.institutions for k in institution_keys(i.name)) or NO_KEYS
        mentions.append(Mention(
            key=f"{work.id}#{a.position}",
            work_id=work.id,
            name=sys.intern(a.name),
            tokens=shared.setdefault(tokens, tokens),
            identifiers=a.identifiers() or NO_IDS,
            institutions=shared.setdefault(institutions, institutions),
            authors=authors,
            own_key=own,
        ))
    return mentions


def mentions_to_json(mentions: list[Mention]) -> str:
    """One work's mentions as the catalog stores them (`Catalog.store_work_mentions`), so that a
    later build reads them instead of normalising every name and affiliation again."""
    authors = sorted(mentions[0].authors) if mentions else []
    rows = [[int(m.key.rsplit("#", 1)[1]), m.name, list(m.tokens), dict(m.identifiers), sorted(m.institutions), m.own_key]
            for m in mentions]
    return json.dumps([authors, rows], ensure_ascii=False, separators=(",", ":"))


def mentions_from_json(work_id: str, text: str, shared: dict) -> list[Mention]:
    """`mentions_to_json`'s mentions again, sharing values as `work_mentions` does."""
    keys, rows = json.loads(text)
    authors = frozenset(map(sys.intern, keys))
    mentions = []
    for position, name, tokens, ids, institutions, own in rows:
        tokens = tuple(map(sys.intern, tokens))
        institutions = frozenset(map(sys.intern, institutions)) or NO_KEYS
        mentions.append(Mention(f"{work_id}#{position}", work_id, sys.intern(name), shared.setdefault(tokens, tokens),
                                ids or NO_IDS, shared.setdefault(institutions, institutions), authors, sys.intern(own)))
    return mentions


@lru_cache(maxsize=1)
def mention_stamp() -> str:
    """What stored mentions were derived by: the source of the modules that make a mention from a
    work (this one, the name normaliser, the records), and the versions of the data they fold names
    and places with (unidecode, Unicode, pycountry). Any change to them makes every stored mention
    stale, so a build never mixes keys made by two versions of the rules."""
    digest = hashlib.blake2b(digest_size=8)
    for module in (sys.modules[__name__], sys.modules[normalize_name.__module__], sys.modules[Work.__module__]):
        digest.update(Path(module.__file__).read_bytes())
    for version in (metadata.version("unidecode"), unicodedata.unidata_version, pycountry.__version__):
        digest.update(version.encode() + b"\0")
    return digest.hexdigest()


class NameFrequency:
    """How many people would carry a name by chance, if given and family names were independent,
    and which two-word names the corpus itself shows several people under (`shortened`)."""

    def __init__(self, mentions: list[Mention]):
        # A small corpus says little about how common a name is: count it as if it were part of a
        # population of at least MIN_POPULATION mentions (the common-parts list covers the rest).
        self.total = max(MIN_POPULATION, len(mentions))
        self.counts = Counter(t for m in mentions for t in set(m.tokens))
        middles: dict[tuple[str, ...], set[str]] = defaultdict(set)
        for tokens in {m.tokens for m in mentions}:
            if len(tokens) > 2 and tokens[1] not in NAME_PARTICLES and tokens[-1] not in NAME_SUFFIXES:
                middles[tuple(sorted((tokens[0], tokens[-1])))].add(tokens[1][0])
        # "Tuan Nguyen" agrees with "Tuan Duong Nguyen", "Tuan Minh Nguyen" and "Tuan-Anh Nguyen", who
        # do not agree with each other: whatever its parts' counts, several people write the name
        self.shortened = frozenset(name for name, initials in middles.items() if len(initials) >= SHORTENED_NAME_MIDDLES)

    def expected_people(self, tokens: list[str]) -> float:
        if all(t in COMMON_NAME_PARTS for t in tokens):
            return float("inf")
        expected = float(self.total)
        for token in set(tokens):
            expected *= self.counts[token] / self.total
        return expected

    def is_rare(self, tokens: list[str]) -> bool:
        return len(tokens) >= 2 and self.expected_people(tokens) < RARE_NAME_EXPECTED_PEOPLE

    def is_shortened(self, tokens: list[str]) -> bool:
        """A two-word name the corpus also writes with middle names of different initials."""
        return len(tokens) == 2 and tuple(sorted(tokens)) in self.shortened


def coauthor_places(mentions: list[Mention], frequency: NameFrequency, years: Mapping[str, int | None]) -> list[frozenset[str]]:
    """Per mention, the institution keys its work's co-authors of rare name held within
    COAUTHOR_PLACE_YEARS of the work (on any of their works), when the mention lists no affiliation
    of its own (NO_KEYS otherwise): rule 4's `name+coauthor-affiliation`. A rare co-author name is
    one person, so their affiliations that year place the work. Computed once per work: a work's
    mentions share what its co-authors lend, less what the mention's own key lent."""
    held: dict[tuple[str, int], set[str]] = defaultdict(set)  # (co-author key, year) -> institution keys
    for m in mentions:
        if m.institutions and (year := years.get(m.work_id)):
            held[(m.own_key, year)].update(m.institutions)
    rare: dict[str, bool] = {}
    work, lent = None, {}  # the work last seen (a work's mentions are consecutive) and what its co-authors lend
    shared: dict[frozenset[str], frozenset[str]] = {}
    out: list[frozenset[str]] = []
    for m in mentions:
        year = years.get(m.work_id)
        if m.institutions or not year or not held or len(m.authors) > COAUTHOR_PLACE_MAX_AUTHORS:
            out.append(NO_KEYS)
            continue
        if m.work_id != work:
            work, lent = m.work_id, {}
            for key in m.authors:
                if rare.setdefault(key, frequency.is_rare(key.split())):
                    places = set().union(*(held.get((key, y), ()) for y in range(year - COAUTHOR_PLACE_YEARS, year + COAUTHOR_PLACE_YEARS + 1)))
                    if places:
                        lent[key] = frozenset(places)
        own = m.own_key
        places = frozenset().union(*(v for k, v in lent.items() if k != own)) or NO_KEYS
        out.append(shared.setdefault(places, places))
    return out


class _Clusters:
    """Union-find over mentions with the evidence each cluster carries (one summed vector each).

    A lone mention shares immutable values with others until it merges: its co-authors and
    affiliations are its mention's frozensets (its work's author keys, without `own_key`, the one key
    that is its own), its works one frozenset per work, its names one frozenset per distinct name, its
    ids NO_IDS when it has none, and its vector sum is its work's row, looked up when asked for (no
    array view kept per mention). A merge copies into sets and a sum of the cluster's own, so memory
    grows with the clusters that merged, never with authors squared, and those go once the cluster's
    last name block is done (`block_done`)."""

    def __init__(self, mentions: list[Mention], vectors: Mapping[str, np.ndarray], lent: list[frozenset[str]] | None = None):
        self.parent = list(range(len(mentions)))
        self.mentions = mentions
        self.ids: list[Mapping[str, set[str]]] = [{k: {v} for k, v in m.identifiers.items()} if m.identifiers else NO_IDS
                                                  for m in mentions]
        singletons: dict = {}  # work id or name -> its one-element frozenset
        self.works: list[frozenset[str] | set[str]] = [
            singletons.setdefault(m.work_id, frozenset((m.work_id,))) for m in mentions]
        self.coauthors: list[frozenset[str] | set[str]] = [m.authors for m in mentions]
        self.own_key: list[str | None] = [m.own_key for m in mentions]  # None once copied
        self.institutions: list[frozenset[str] | set[str]] = [m.institutions for m in mentions]
        # its institutions, and for a work without any, those its co-authors `lent` (`coauthor_places`)
        self.places: list[frozenset[str] | set[str]] = [
            m.institutions or lent[i] for i, m in enumerate(mentions)] if lent else list(self.institutions)
        self.names: list[frozenset[tuple[str, ...]] | set[tuple[str, ...]]] = [
            singletons.setdefault(m.tokens, frozenset((m.tokens,))) for m in mentions]
        del singletons
        self.sums: list[np.ndarray | None] = [None] * len(mentions)  # a merged cluster's own sum (see `vector_sum`)
        self.vectors = vectors
        # Centroids, asked for by several stages of a pass and again on the next: kept for the block
        # being resolved (`new_block` empties them, so memory stays with one block).
        self.centroids: dict[int, np.ndarray | None] = {}
        self.rare_keys: dict[tuple[str, ...], str | None] = {}  # name -> `rare_key`, asked for on every pass
        self.last_block: list[int] = [-1] * len(mentions)  # a root: the last block that holds one of its mentions
        self.expiring: dict[int, list[int]] = defaultdict(list)  # block -> merged roots whose last block it may be

    def plan_release(self, blocks: list[list[int]]) -> None:
        """Remember the last of `blocks` (in the order they are resolved) that holds each mention: once
        a merged cluster's last block is done nothing reads its evidence again, and `block_done` lets it
        go. A large work's authors, merged across its copies, held sets of thousands of co-author keys
        each until every block was done (issue 14: most of identity's peak at 1M works)."""
        for k, block in enumerate(blocks):
            for i in block:
                self.last_block[i] = k

    def block_done(self, k: int) -> None:
        """Release the evidence of the merged clusters whose last block is `k` (-1: before the first)."""
        for r in self.expiring.pop(k, ()):
            if self.parent[r] == r and self.last_block[r] == k:
                self.works[r] = self.coauthors[r] = self.institutions[r] = self.places[r] = self.names[r] = NO_KEYS
                self.sums[r] = None

    def new_block(self) -> None:
        self.centroids.clear()
        self.rare_keys.clear()

    def release_evidence(self) -> None:
        """Once rule 4 is done only the union-find and the ids are read (`_assign_ids`): the vector sum
        and the grown sets of every merged cluster go before the links are made, not after."""
        for held in (self.works, self.coauthors, self.own_key, self.institutions, self.places, self.names, self.sums):
            held.clear()
        self.centroids.clear()
        self.rare_keys.clear()

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def conflict(self, a: int, b: int) -> bool:
        """Rules 2 and 3: different ids of one kind, or both on the same work."""
        if not self.works[a].isdisjoint(self.works[b]):
            return True
        return any(
            kind in self.ids[b] and self.ids[a][kind] != self.ids[b][kind] for kind in self.ids[a]
        )

    def union(self, a: int, b: int) -> int:
        a, b = self.find(a), self.find(b)
        if a == b:
            return a
        if len(self.works[a]) < len(self.works[b]):
            a, b = b, a
        self.parent[b] = a
        sum_a, sum_b = self.vector_sum(a), self.vector_sum(b)
        if self.ids[b] and self.ids[a] is NO_IDS:
            self.ids[a] = {}
        for kind, values in self.ids[b].items():
            self.ids[a].setdefault(kind, set()).update(values)
        self.works[a] = self._grown(self.works[a], self.works[a], self.works[b])
        self.coauthors[a] = self._grown(self.coauthors[a], self.coauthor_keys(a), self.coauthor_keys(b))
        self.own_key[a] = self.own_key[b] = None
        self.institutions[a] = self._grown(self.institutions[a], self.institutions[a], self.institutions[b])
        self.places[a] = self._grown(self.places[a], self.places[a], self.places[b])
        self.names[a] = self._grown(self.names[a], self.names[a], self.names[b])
        self.sums[a] = sum_a if sum_b is None else sum_b.copy() if sum_a is None else sum_a + sum_b
        self.last_block[a] = max(self.last_block[a], self.last_block[b])
        self.expiring[self.last_block[a]].append(a)
        self.works[b] = self.names[b] = self.coauthors[b] = self.institutions[b] = self.places[b] = NO_KEYS
        self.ids[b] = NO_IDS
        self.sums[b] = None
        self.centroids.pop(a, None)
        self.centroids.pop(b, None)
        return a

    @staticmethod
    def _grown(held: frozenset | set, mine: Collection, theirs: Collection) -> set:
        """`mine` | `theirs` in a set of the cluster's own: `held` itself once copied, else a copy."""
        grown = held if type(held) is set else set(mine)
        grown.update(theirs)
        return grown

    def coauthor_keys(self, a: int) -> Collection[str]:
        """The co-author name keys of cluster `a` (a lone mention's work's keys without its own)."""
        own = self.own_key[a]
        return self.coauthors[a] if own is None or own not in self.coauthors[a] else self.coauthors[a] - {own}

    def shared_coauthors(self, a: int, b: int) -> set[str]:
        shared = set(self.coauthors[a] & self.coauthors[b])
        shared.difference_update((self.own_key[a], self.own_key[b]))
        return shared

    def rare_key(self, name: tuple[str, ...], frequency: NameFrequency) -> str | None:
        """`name`'s order-insensitive key when it is rare, else None."""
        if name not in self.rare_keys:
            self.rare_keys[name] = " ".join(sorted(name)) if frequency.is_rare(list(name)) else None
        return self.rare_keys[name]

    def vector_sum(self, a: int) -> np.ndarray | None:
        """Sum of cluster `a`'s work vectors: a lone mention's is its work's row (never merged: its
        works are still the shared frozenset), a merged cluster's its own array (None without vectors)."""
        if type(self.works[a]) is frozenset and len(self.works[a]) == 1:
            return self.vectors.get(next(iter(self.works[a])))
        return self.sums[a]

    def centroid(self, a: int) -> np.ndarray | None:
        if a not in self.centroids:
            s = self.vector_sum(a)
            norm = 0.0 if s is None else float(np.linalg.norm(s))
            self.centroids[a] = s / norm if norm else None
        return self.centroids[a]

    def closest_works(self, a: int, b: int) -> float:
        """Highest cosine between a work of `a` and a work of `b` (used for rare names only: few clusters)."""
        va = [self.vectors[w] for w in self.works[a] if w in self.vectors]
        vb = [self.vectors[w] for w in self.works[b] if w in self.vectors]
        return float((np.stack(va) @ np.stack(vb).T).max()) if va and vb else 0.0

    def names_fit(self, a: int, b: int) -> str | None:
        """"agree" when every name of `a` agrees with every name of `b`, "short form" when some
        pairs fit only as short forms, None when a pair does neither."""
        fit = "agree"
        for x in self.names[a]:
            for y in self.names[b]:
                if not _names_agree(x, y) and not self.held_together(a, b, x, y):
                    if _short_form(x, y) is None:
                        return None
                    fit = "short form"
        return fit

    def held_together(self, a: int, b: int, x: tuple[str, ...], y: tuple[str, ...]) -> bool:
        """Name `x` of `a` and `y` of `b` already sit in one cluster: evidence joined them before
        ("Anima" and "Animashree" in both halves of one person), so this pair needs no more."""
        return y in self.names[a] or x in self.names[b]


class _Evidence:
    """Rule 4's evidence between two clusters of one name block."""

    def __init__(self, clusters: _Clusters, frequency: NameFrequency, years: Mapping[str, int | None]):
        self.clusters, self.frequency, self.years = clusters, frequency, years

    def years_apart(self, a: int, b: int) -> int | None:
        """Years between the two clusters' publication spans: 0 when they overlap, None when a side has no year."""
        ya = [y for w in self.clusters.works[a] if (y := self.years.get(w))]
        yb = [y for w in self.clusters.works[b] if (y := self.years.get(w))]
        return max(0, min(yb) - max(ya), min(ya) - max(yb)) if ya and yb else None

    def one_after_the_other(self, a: int, b: int) -> bool:
        """The two clusters' publication years do not overlap: one person who moved, rather than two
        people of one field publishing at the same time."""
        return (self.years_apart(a, b) or 0) > 0

    def one_stay(self, a: int, b: int) -> bool:
        """The two clusters published within AFFILIATION_YEARS_APART years of each other: at one
        institution, one stay (a degree, a post) rather than two cohorts of the same name."""
        apart = self.years_apart(a, b)
        return apart is not None and apart <= AFFILIATION_YEARS_APART

    def compound(self, a: int, b: int) -> bool:
        """A short form, or a given name with a middle name on one side only, that is really another
        given name: "Xiang" beside "Xiangyang" (rule 4's `short-form+coauthor`), "Xiang Li" beside
        "Xiang Yang Li" when some name here writes "Xiangyang" as one word (a compound given name
        split in two syllables, not a middle name)."""
        for x in self.clusters.names[a]:
            for y in self.clusters.names[b]:
                if self.clusters.held_together(a, b, x, y):
                    continue
                agree = _names_agree(x, y)
                joined = _split_given(x, y) if agree else None
                if joined and self.frequency.counts[joined]:
                    return True
                pair = None if agree else _short_form(x, y)
                if pair:
                    short, long = pair
                    rest = long[len(short):]
                    if short in COMMON_NAME_PARTS or (len(rest) > 1 and self.frequency.counts[rest] >= NAME_PART_MENTIONS):
                        return True
        return False

    def placed_by_coauthors(self, a: int, b: int) -> bool:
        """One side is a lone work without affiliation whose co-authors place it (`coauthor_places`) at
        an institution of the other side: its own, or the places lent to it when it is such a work too.
        What was lent to a record grown from several works is never matched: each of its works had
        other co-authors, and together they place it too widely."""
        c = self.clusters
        unplaced = [len(c.works[x]) == 1 and not c.institutions[x] for x in (a, b)]
        if unplaced == [False, False]:
            return False
        if all(unplaced):
            return bool(c.places[a] & c.places[b])
        lone, other = (a, b) if unplaced[0] else (b, a)
        return bool(c.places[lone] & c.institutions[other])

    def common_name(self, key: str) -> bool:
        return not self.frequency.is_rare(key.split())

    def __call__(self, a: int, b: int, similarity: float, fit: str = "agree") -> tuple[str, float] | None:
        c = self.clusters
        if self.compound(a, b):
            return None
        if fit == "short form":
            shared = len(c.shared_coauthors(a, b))
            related = bool(c.institutions[a] & c.institutions[b]) or similarity >= TOPIC_THRESHOLD
            return ("short-form+coauthor", 0.9) if shared >= SHORT_FORM_COAUTHORS and related else None
        names = [list(n) for n in c.names[a] | c.names[b]]
        abbreviated = any(is_abbreviated(n) for n in names)
        full = [n for n in names if not is_abbreviated(n)]
        # "M. Ueda" beside a rare full name; a rare full name both sides carry ("Michael I. Jordan")
        # is as telling beside the common short form or the initials one side also joined ("Michael
        # Jordan", "T. J. Sejnowski"): evidence already tied those to the full name on that side
        both = any(not is_abbreviated(list(n)) and self.frequency.is_rare(list(n)) for n in c.names[a] & c.names[b])
        rare_full = bool(full) and (both or all(self.frequency.is_rare(n) for n in full))
        rare = rare_full and (both or not abbreviated)
        shared = c.shared_coauthors(a, b)
        if shared and (rare_full or len(shared) >= 2 or any(not self.common_name(k) for k in shared)):
            return "name+coauthor", 0.95
        very_common = any(self.frequency.expected_people(n) >= VERY_COMMON_NAME_PEOPLE for n in names)
        if c.institutions[a] & c.institutions[b] and (rare_full or similarity >= AFFILIATION_TOPIC_THRESHOLD or (
                not very_common and not abbreviated and self.one_stay(a, b))):
            return "name+affiliation", 0.9
        if similarity >= AFFILIATION_TOPIC_THRESHOLD and self.placed_by_coauthors(a, b):
            return "name+coauthor-affiliation", 0.85
        threshold = INITIALS_TOPIC_THRESHOLD if abbreviated else TOPIC_THRESHOLD if rare else COMMON_NAME_TOPIC_THRESHOLD
        if abbreviated and rare_full and similarity < threshold:
            # initials beside one rare full name: the closest works, not the centroids. A record that grew
            # over decades and fields has a centroid near none of its works (ml-venues' Gerald Tesauro:
            # "G. Tesauro"'s 1987 backgammon network is at 0.68 of his 1990 work, 0.56 of his record),
            # and the closest works only grow closer as records grow, so the merge no longer depends
            # on whether it is tested before or after the record has formed.
            similarity = max(similarity, c.closest_works(a, b))
        lone = min(len(c.works[a]), len(c.works[b])) == 1
        if similarity >= threshold and (not very_common or (bool(shared) if lone else self.one_after_the_other(a, b))):
            return "name+topic", round(min(0.85, 0.4 + similarity / 2), 3)
        if not rare:
            return None
        f = self.frequency
        if any(f.is_shortened(n) for n in names) and not any(
                f.is_rare(n) and not is_abbreviated(n) and not f.is_shortened(n) for n in map(list, c.names[a] & c.names[b])):
            return None  # one broad field is enough only when few people write the name (rule 4, rare-name+topic)
        if similarity < RARE_NAME_TOPIC_THRESHOLD:
            similarity = c.closest_works(a, b)
        if similarity >= RARE_NAME_TOPIC_THRESHOLD:
            return "rare-name+topic", round(0.4 + similarity / 2, 3)
        return None


def _name_blocks(mentions: list[Mention]) -> list[list[int]]:
    """Candidate groups: one per (family name, first given initial) of every name reading; a
    mention sits in up to two. Two agreeing names always share one (blocks are not joined, so
    blocks of common names stay small). Blocks come in a fixed order (of the readings, not of a
    set, which varies with PYTHONHASHSEED): a mention in two blocks may merge differently by order."""
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, m in enumerate(mentions):
        for key in dict.fromkeys(f"{family}|{given[0][0]}" for family, given in readings(m.tokens) if given):
            blocks[key].append(i)
    return [b for b in blocks.values() if len(b) > 1]


def _link_by_identifiers(mentions: list[Mention], clusters: _Clusters, reasons: dict[int, tuple[str, float]]) -> list[Conflict]:
    """Rule 1, with the shifted-id guard; returns the conflicts found (their ids removed from the mentions)."""
    carriers: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, m in enumerate(mentions):
        for kind, value in m.identifiers.items():
            carriers[(kind, value)].append(i)
    conflicts = []
    for (kind, value), members in carriers.items():
        names = Counter(tuple(mentions[i].tokens) for i in members)
        hint = id_name(kind, value)
        usual = list(max(names, key=lambda n: (names[n], bool(hint) and names_compatible(list(n), hint), n)))
        for i in members:
            if not names_compatible(mentions[i].tokens, usual):
                conflicts.append(Conflict(kind, value, " ".join(usual).title(), mentions[i].name, mentions[i].key))
                del mentions[i].identifiers[kind]
                del clusters.ids[i][kind]
    for (kind, value), members in carriers.items():
        kept = [i for i in members if mentions[i].identifiers.get(kind) == value]
        for i in kept[1:]:
            if not clusters.conflict(clusters.find(i), clusters.find(kept[0])):
                clusters.union(i, kept[0])
                reasons[i] = (kind, 1.0)
                reasons.setdefault(kept[0], (kind, 1.0))
    return conflicts


def _candidate_pairs(clusters: _Clusters, roots: list[int], rare: NameFrequency) -> dict[tuple[int, int], float]:
    """Pairs of clusters worth testing, with their centroid cosine: sharing a co-author or a place
    (an affiliation, or one co-authors lent: `coauthor_places`) (inverted indexes; a large group pairs only clusters whose names can fit,
    `_name_fitting_pairs`), sharing a rare name and topically related (`_rare_name_pairs`), or
    topically close (one matrix product over the centroids). Names are fitted once over the members
    of all large groups, not once per group: a work with hundreds of authors in one block gives one
    group per author (all the others), which made the 1M-work pipeline cubic in such a work's authors."""
    pairs: dict[tuple[int, int], float] = {}
    lowest = min(RARE_NAME_TOPIC_THRESHOLD, AFFILIATION_TOPIC_THRESHOLD)
    for attribute in (clusters.coauthors, clusters.places):  # places: institutions, and those co-authors lent
        own = clusters.own_key if attribute is clusters.coauthors else None
        groups = _sharing_groups(attribute, own, roots)
        large = [group for group in groups if len(group) > NAME_SUB_BLOCK_MIN]
        for group in groups:
            if 1 < len(group) <= NAME_SUB_BLOCK_MIN:
                pairs.update(dict.fromkeys(combinations(group, 2), 0.0))  # a group lists roots in ascending order
        if large:
            shared: dict[int, set[int]] = defaultdict(set)  # root -> the large groups it is in
            for g, group in enumerate(large):
                for r in group:
                    shared[r].add(g)
            pairs.update(dict.fromkeys(
                ((a, b) for a, b in _name_fitting_pairs(clusters, sorted(shared)) if not shared[a].isdisjoint(shared[b])),
                0.0))
    rare_groups: dict[str, list[int]] = defaultdict(list)
    for r in roots:
        for key in {k for n in clusters.names[r] if (k := clusters.rare_key(n, rare))}:
            rare_groups[key].append(r)
    pairs.update(dict.fromkeys(_rare_name_pairs(clusters, [g for g in rare_groups.values() if len(g) > 1], lowest), 0.0))
    with_vectors = [(r, c) for r in roots if (c := clusters.centroid(r)) is not None]
    if len(with_vectors) > 1:
        ids = [r for r, _ in with_vectors]
        matrix = np.stack([c for _, c in with_vectors]).astype(np.float32)
        for start in range(0, len(ids), 1024):
            sims = matrix[start : start + 1024] @ matrix.T
            keep = sims >= lowest
            if len(ids) > TOPIC_NEIGHBOURS + 1:
                kth = -np.partition(-sims, TOPIC_NEIGHBOURS, axis=1)[:, TOPIC_NEIGHBOURS : TOPIC_NEIGHBOURS + 1]
                keep &= sims >= kth
            rows, cols = np.nonzero(keep)
            for row, col, sim in zip(rows.tolist(), cols.tolist(), sims[rows, cols].tolist()):
                a, b = ids[start + row], ids[col]
                if a != b:
                    pairs[(min(a, b), max(a, b))] = sim
        centroid = {r: c for r, c in with_vectors}
        for a, b in pairs:
            if pairs[(a, b)] == 0.0 and a in centroid and b in centroid:
                pairs[(a, b)] = float(centroid[a] @ centroid[b])
    return pairs


def _sharing_groups(attribute: list[Collection[str]], own: list[str | None] | None, roots: list[int]) -> list[list[int]]:
    """The distinct groups, each in ascending order, of `roots` that hold one value of `attribute`
    (a co-author key, not the root's `own` key; an institution). Roots with equal values (the lone
    mentions of one work, of its recombined copies) are indexed once, and a group that many values
    share (a large work's author keys) is listed once: at 1M works the same few roots were indexed and
    paired once per author of a 2,831-author work."""
    holders: dict[object, list[int]] = {}  # a frozenset of values (a merged cluster's set: its id) -> its roots
    for r in roots:
        values = attribute[r]
        if values:
            holders.setdefault(values if type(values) is frozenset else id(values), []).append(r)
    members = list(holders.values())
    excluded: dict[str, list[int]] = defaultdict(list)  # a lone mention's own key -> the roots it is not a co-author of
    if own is not None:
        for r in roots:
            if own[r] is not None and own[r] in attribute[r]:
                excluded[own[r]].append(r)
    # Only a value of several holders, or an own key, can group other roots than one holder's: the
    # others (most keys of a large work) give that holder's roots, found by set operations, not per value.
    seen: set[str] = set()
    special = set(excluded)
    for held in members:
        values = attribute[held[0]]
        special |= seen.intersection(values)
        seen |= values
    groups: dict[tuple, list[int]] = {}
    index: dict[str, list[int]] = defaultdict(list)  # value -> numbers of the holders that hold it
    for h, held in enumerate(members):
        values = attribute[held[0]]
        if len(held) > 1 and not special.issuperset(values):
            groups[((h,), ())] = held
        for value in special.intersection(values):
            index[value].append(h)
    for value, held in index.items():
        key = (tuple(held), tuple(excluded.get(value, ())))
        if key not in groups:
            skip = set(key[1])
            groups[key] = sorted(r for h in held for r in members[h] if r not in skip)
    return list(groups.values())


def _name_fitting_pairs(clusters: _Clusters, group: list[int]) -> set[tuple[int, int]]:
    """The pairs of `group` in which some name of one side is, agrees with or is a short form of
    some name of the other: `names_fit` accepts no other pair (two clusters without a common name
    must fit on every pair of names). A large institution or a common co-author name shared by many
    clusters of a block thus pairs the namesakes among them, not every member with every other."""
    holders: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for r in group:
        for name in clusters.names[r]:
            holders[name].append(r)
    out: set[tuple[int, int]] = set()
    for held in holders.values():
        out.update(combinations(sorted(held), 2))
    for x, y in _names_that_may_fit(holders):
        if _names_agree(x, y) or _names_agree(y, x) or _short_form(x, y) or _short_form(y, x):
            out.update((min(a, b), max(a, b)) for a in holders[x] for b in holders[y] if a != b)
    return out


def _names_that_may_fit(names: Iterable[tuple[str, ...]]) -> set[tuple[tuple[str, ...], tuple[str, ...]]]:
    """Pairs of different names that share a family name in some reading and whose first given names
    there begin one with the other: agreeing names (equal, an initial, written together or apart)
    and short forms ("Dan"/"Daniel") all do. Found in sorted order (the names beginning with a
    prefix follow it), so a block's names are not compared all with all."""
    by_family: dict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
    for name in names:
        for family, given in readings(list(name)):
            if given:
                by_family[family].append((given[0], name))
    out = set()
    for entries in by_family.values():
        entries.sort()
        for i, (first, x) in enumerate(entries):
            for other, y in entries[i + 1 :]:
                if not other.startswith(first):
                    break
                if x != y:
                    out.add((x, y))
    return out


def _rare_name_pairs(clusters: _Clusters, groups: list[list[int]], lowest: float) -> list[tuple[int, int]]:
    """Pairs within each of `groups` (clusters sharing a rare name) whose centroids or closest works
    reach the `lowest` cosine any rule accepts: without a shared co-author or affiliation (paired by
    their own indexes) no rule joins the others. TOLERANCE keeps float rounding from dropping a pair
    the rules, which compute the exact cosine, would accept.

    A block holds thousands of small groups: their work vectors (and centroids) are stacked once and
    multiplied in tiles of RARE_BATCH_ROWS rows and columns, each masked to pairs of one group: not one
    product per group (whose fixed numpy cost dominated), nor a large group's works x works matrix."""
    works: tuple[list[np.ndarray], list[int], list[int]] = ([], [], [])  # vectors, their groups and clusters
    centroids: tuple[list[np.ndarray], list[int], list[int]] = ([], [], [])
    for g, group in enumerate(groups):
        members = [r for r in group if clusters.centroid(r) is not None]
        if len(members) < 2:
            continue
        for r in members:
            own = [clusters.vectors[w] for w in clusters.works[r] if w in clusters.vectors]
            for rows, vectors in ((centroids, [clusters.centroid(r)]), (works, own)):
                rows[0].extend(vectors)
                rows[1].extend([g] * len(vectors))
                rows[2].extend([r] * len(vectors))
    related: set[tuple[int, int]] = set()
    for vectors, group_of, owner in (works, centroids):
        if vectors:
            matrix = np.stack(vectors).astype(np.float32)
            related |= _related_within_groups(matrix, np.array(group_of), np.array(owner), lowest - TOLERANCE)
    return sorted(related)


def _related_within_groups(matrix: np.ndarray, group: np.ndarray, owner: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    """(owner a, owner b), a < b, of the row pairs of one group (a group's rows are consecutive)
    whose vectors' product reaches `threshold`, in tiles of RARE_BATCH_ROWS."""
    starts = [0, *(np.flatnonzero(np.diff(group)) + 1).tolist(), len(group)]
    out: set[tuple[int, int]] = set()
    first = 0
    for k in range(1, len(starts)):  # spans of whole groups, about RARE_BATCH_ROWS rows each (or one larger group)
        if k < len(starts) - 1 and starts[k + 1] - starts[first] <= RARE_BATCH_ROWS:
            continue
        lo, hi = starts[first], starts[k]
        first = k
        for top in range(lo, hi, RARE_BATCH_ROWS):
            down = slice(top, min(hi, top + RARE_BATCH_ROWS))
            for left in range(lo, hi, RARE_BATCH_ROWS):
                across = slice(left, min(hi, left + RARE_BATCH_ROWS))
                hit = matrix[down] @ matrix[across].T >= threshold
                hit &= group[down, None] == group[None, across]
                hit &= owner[down, None] < owner[None, across]
                x, y = np.nonzero(hit)
                out.update(zip(owner[top + x].tolist(), owner[left + y].tolist()))
    return out


@collector_paused()  # making the mentions allocates as much as resolving them
def resolve(
    works: list[Work], vectors: Mapping[str, np.ndarray], previous: Mapping[str, Link] | None = None,
    changed: Collection[str] | None = None,
) -> Resolution:
    """Link every mention of `works` to a researcher (`resolve_mentions`)."""
    return resolve_mentions(mentions_of(works), {w.id: w.year for w in works}, vectors, previous, changed)


# One BLAS thread: the products here are many and small (a block's centroids, a rare name's works), and
# OpenBLAS's threads on them cost more CPU than they save (x30-100 for a 64x256 product on a busy machine).
@threadpool_limits.wrap(limits=1, user_api="blas")
@collector_paused()
def resolve_mentions(
    mentions: list[Mention], years: Mapping[str, int | None], vectors: Mapping[str, np.ndarray],
    previous: Mapping[str, Link] | None = None, changed: Collection[str] | None = None,
) -> Resolution:
    """Link every one of `mentions` (works in id order, authors in order: `mentions_of`) to a
    researcher, keeping the `previous` links' ids. `years`: work id -> its year.

    With `changed` (an incremental reindex: the works added or changed since `previous` was
    resolved), rule 4 runs only in the name blocks that hold a mention whose cluster may differ
    (see `_restore_previous`); every other mention keeps its previous cluster and link, so pairs
    are compared only where the change lands. Without it, every block is resolved."""
    previous = previous or {}
    frequency = NameFrequency(mentions)
    clusters = _Clusters(mentions, vectors, coauthor_places(mentions, frequency, years))
    blocks = _name_blocks(mentions)
    clusters.plan_release(blocks)
    evidence = _Evidence(clusters, frequency, years)
    reasons: dict[int, tuple[str, float]] = {}
    conflicts = _link_by_identifiers(mentions, clusters, reasons)
    dirty = None if changed is None else _restore_previous(mentions, clusters, reasons, previous, set(changed))

    # Rule 4: within each name block, merge the strongest agreeing pairs first, pass after pass.
    resolved = 0
    for k, block in enumerate(blocks):
        clusters.block_done(k - 1)
        if dirty is not None and not any(clusters.find(i) in dirty for i in block):
            continue
        clusters.new_block()
        resolved += 1
        unjoined: dict[tuple[int, int], tuple[int, int]] = {}  # pairs without evidence -> their sizes then
        while True:
            roots = sorted({clusters.find(i) for i in block})
            candidates = _candidate_pairs(clusters, roots, frequency)
            found = []
            for (a, b), similarity in candidates.items():
                if dirty is not None and a not in dirty and b not in dirty:
                    continue  # two kept clusters: compared when they were made
                sizes = (len(clusters.works[a]), len(clusters.works[b]))
                if unjoined.get((a, b)) == sizes:
                    continue  # no evidence in an earlier pass, and neither cluster has grown since
                fit = None if clusters.conflict(a, b) else clusters.names_fit(a, b)
                reason = evidence(a, b, similarity, fit) if fit else None
                if reason:
                    found.append((-reason[1], -similarity, a, b, reason))
                else:
                    unjoined[(a, b)] = sizes
            merged = False
            grown: set[int] = set()
            for _, _, a, b, reason in sorted(found):
                ra, rb = clusters.find(a), clusters.find(b)
                fit = None if ra == rb or clusters.conflict(ra, rb) else clusters.names_fit(ra, rb)
                if not fit:
                    continue
                if {ra, rb} != {a, b} or ra in grown or rb in grown:  # one side grew this pass: test the grown clusters again
                    ca, cb = clusters.centroid(ra), clusters.centroid(rb)
                    reason = evidence(ra, rb, float(ca @ cb) if ca is not None and cb is not None else 0.0, fit)
                    if not reason:
                        continue
                root = clusters.union(ra, rb)
                grown.add(root)
                if dirty is not None:
                    dirty.add(root)
                reasons.setdefault(rb, reason)
                reasons.setdefault(ra, reason)
                merged = True
            if not merged:
                break

    del evidence
    clusters.release_evidence()
    for cache in (_names_agree, _short_form, _split_given, _institution_keys):  # up to a million name pairs each
        cache.cache_clear()
    resolution = _assign_ids(mentions, clusters, reasons, previous)
    resolution.conflicts = conflicts
    resolution.blocks, resolution.resolved_blocks = len(blocks), resolved
    return resolution


def _restore_previous(
    mentions: list[Mention], clusters: _Clusters, reasons: dict[int, tuple[str, float]],
    previous: Mapping[str, Link], changed: set[str],
) -> set[int]:
    """Rebuild the previous clusters of the mentions an incremental change leaves alone, with the
    links' reasons; returns the roots of the clusters rule 4 must look at again ("dirty").

    A mention is looked at again when its work is in `changed`, it has no previous link (or one
    stored without its method), its previous researcher lost a mention or has one on a changed
    work (the whole researcher: the evidence that joined it moved), or rule 1 joined it to such a mention."""
    present = {m.key for m in mentions}
    sizes = Counter(link.researcher_id for link in previous.values())
    fresh = {i for i, m in enumerate(mentions) if m.work_id in changed or previous.get(m.key) is None
             or previous[m.key].method is None}
    moved = {previous[key].researcher_id for key in previous.keys() - present}
    moved |= {previous[mentions[i].key].researcher_id for i in fresh if mentions[i].key in previous}
    fresh |= {i for i, m in enumerate(mentions) if m.key in previous and previous[m.key].researcher_id in moved}
    dirty = {clusters.find(i) for i in fresh}
    kept: dict[str, int] = {}
    for i, m in enumerate(mentions):
        if clusters.find(i) in dirty:
            continue
        link = previous[m.key]
        if sizes[link.researcher_id] > 1:  # a lone mention never merged: it had no reason
            reasons.setdefault(i, (link.method, link.confidence))
        first = kept.setdefault(link.researcher_id, i)
        if first != i and not clusters.conflict(clusters.find(first), clusters.find(i)):
            clusters.union(first, i)
    return dirty


def _assign_ids(
    mentions: list[Mention], clusters: _Clusters, reasons: dict[int, tuple[str, float]], previous: Mapping[str, Link]
) -> Resolution:
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(mentions)):
        groups[clusters.find(i)].append(i)
    # Largest clusters choose first, so a split keeps the old id on its bigger part.
    resolution = Resolution()
    taken: set[str] = set()
    for root, members in sorted(groups.items(), key=lambda kv: (-len(kv[1]), mentions[kv[0]].key)):
        votes = Counter(previous[mentions[i].key].researcher_id for i in members if mentions[i].key in previous)
        rid = next((r for r, _ in votes.most_common() if r not in taken), None)
        if rid is None:
            ids = clusters.ids[root]
            kind = next((k for k in ID_KINDS if ids.get(k)), None)
            anchor = f"{kind}:{min(ids[kind])}" if kind else f"name:{name_key(mentions[root].name)}|{min(mentions[i].key for i in members)}"
            rid = researcher_id(anchor)
            while rid in taken:
                rid = researcher_id(anchor + "+")
                anchor += "+"
        taken.add(rid)
        resolution.members[rid] = tuple(Member(m.key, m.work_id, m.name, m.identifiers) for m in map(mentions.__getitem__, members))
        carriers = Counter(item for i in members for item in mentions[i].identifiers.items())
        for i in members:
            m = mentions[i]
            if any(carriers[item] > 1 for item in m.identifiers.items()):
                method, confidence = next(iter(m.identifiers)), 1.0
            elif len(members) == 1:
                method, confidence = (next(iter(m.identifiers)), 1.0) if m.identifiers else ("name", 1.0)
            else:
                method, confidence = reasons.get(i, reasons.get(root, ("name", 0.8)))
            resolution.links[m.key] = Link(rid, method, confidence)
    return resolution
