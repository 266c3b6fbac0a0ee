"""Researcher identity: which author mentions are the same person.

Rules, in order (each has a test in tests/test_identity.py):
1. Mentions sharing a source identifier (ORCID, OpenAlex, OpenReview, dblp) are one researcher,
   whatever the name says.
2. Mentions carrying *different* identifiers of one kind are never merged.
3. Two mentions on the same work are never one researcher.
4. Otherwise names must agree after normalisation (case, diacritics, hyphens, punctuation, either
   name order; initials only against a full name with the same surname and initial), and the
   evidence must agree too: a shared co-author, a shared affiliation, or topically similar works
   (cosine >= 0.5; >= 0.25 when the name is rare, i.e. fewer than 0.5 people are expected to carry
   it by chance). A matching name alone never merges.
Researcher ids are remembered per mention, so rebuilding keeps every id a user may have linked to.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
from unidecode import unidecode

from models.records import Work, researcher_id

TOPIC_THRESHOLD = 0.5  # max cosine between the two clusters' works for topical evidence
RARE_NAME_TOPIC_THRESHOLD = 0.25  # same broad field: enough when few people carry the name
INITIALS_TOPIC_THRESHOLD = 0.6  # an initial-only name needs stronger topical evidence
RARE_NAME_EXPECTED_PEOPLE = 0.5
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
ID_KINDS = ("orcid", "openalex", "openreview", "dblp")


def name_tokens(name: str) -> list[str]:
    """'Zi-Yin  LIU' -> ['ziyin', 'liu']; 'A.N.Aleshaev' -> ['a', 'n', 'aleshaev']."""
    text = unidecode(name).lower()
    text = re.sub(r"['\u2019`]", "", text)
    text = re.sub(r"(?<=\w)-(?=\w)", "", text)
    return re.findall(r"[a-z0-9]+", text)


def name_key(name: str) -> str:
    """Order-insensitive key: 'Liu Ziyin' and 'Ziyin Liu' agree."""
    return " ".join(sorted(name_tokens(name)))


def is_abbreviated(tokens: list[str]) -> bool:
    return len(tokens) >= 2 and all(len(t) == 1 for t in tokens[:-1]) and len(tokens[-1]) > 1


def initials_key(tokens: list[str], family_first: bool = False) -> str | None:
    if len(tokens) < 2:
        return None
    family = tokens[0] if family_first else tokens[-1]
    given = tokens[1] if family_first else tokens[0]
    return f"{family} {given[0]}"


def institution_key(name: str) -> str:
    return " ".join(name_tokens(name))


@dataclass
class Mention:
    key: str  # "<work id>#<position>"
    work_id: str
    name: str
    tokens: list[str]
    identifiers: dict[str, str]
    institutions: set[str]
    coauthors: set[str]  # name keys of the other authors on the work


@dataclass
class Link:
    researcher_id: str
    method: str
    confidence: float


@dataclass
class Resolution:
    """Mention -> researcher link, and each researcher's mentions."""

    links: dict[str, Link] = field(default_factory=dict)
    members: dict[str, list[Mention]] = field(default_factory=dict)


def mentions_of(works: list[Work]) -> list[Mention]:
    mentions = []
    for work in works:
        keys = [name_key(a.name) for a in work.authorships]
        for a, own_key in zip(work.authorships, keys):
            tokens = name_tokens(a.name)
            if not tokens:
                continue
            mentions.append(
                Mention(
                    key=f"{work.id}#{a.position}",
                    work_id=work.id,
                    name=a.name,
                    tokens=tokens,
                    identifiers=a.identifiers(),
                    institutions={institution_key(i.name) for i in a.institutions if institution_key(i.name)},
                    coauthors={k for k in keys if k != own_key},
                )
            )
    return mentions


class NameFrequency:
    """How many people would carry a name by chance, if given and family names were independent."""

    def __init__(self, mentions: list[Mention]):
        # A small corpus says little about how common a name is: count it as if it were part of a
        # population of at least MIN_POPULATION mentions (the common-parts list covers the rest).
        self.total = max(MIN_POPULATION, len(mentions))
        self.counts = Counter(t for m in mentions for t in set(m.tokens))

    def expected_people(self, tokens: list[str]) -> float:
        if all(t in COMMON_NAME_PARTS for t in tokens):
            return float("inf")
        expected = float(self.total)
        for token in set(tokens):
            expected *= self.counts[token] / self.total
        return expected

    def is_rare(self, tokens: list[str]) -> bool:
        return len(tokens) >= 2 and self.expected_people(tokens) < RARE_NAME_EXPECTED_PEOPLE


class _Clusters:
    """Union-find over mentions with the evidence each cluster carries."""

    def __init__(self, mentions: list[Mention], vectors: dict[str, np.ndarray]):
        self.parent = list(range(len(mentions)))
        self.mentions = mentions
        self.ids: list[dict[str, set[str]]] = [{k: {v} for k, v in m.identifiers.items()} for m in mentions]
        self.works: list[set[str]] = [{m.work_id} for m in mentions]
        self.coauthors: list[set[str]] = [set(m.coauthors) for m in mentions]
        self.institutions: list[set[str]] = [set(m.institutions) for m in mentions]
        self.vectors = vectors

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def conflict(self, a: int, b: int) -> bool:
        """Rules 2 and 3: different ids of one kind, or both on the same work."""
        if self.works[a] & self.works[b]:
            return True
        return any(
            kind in self.ids[b] and self.ids[a][kind] != self.ids[b][kind] for kind in self.ids[a]
        )

    def union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a == b:
            return
        if len(self.works[a]) < len(self.works[b]):
            a, b = b, a
        self.parent[b] = a
        for kind, values in self.ids[b].items():
            self.ids[a].setdefault(kind, set()).update(values)
        self.works[a] |= self.works[b]
        self.coauthors[a] |= self.coauthors[b]
        self.institutions[a] |= self.institutions[b]

    def topical(self, a: int, b: int) -> float:
        va = [self.vectors[w] for w in self.works[a] if w in self.vectors]
        vb = [self.vectors[w] for w in self.works[b] if w in self.vectors]
        if not va or not vb:
            return 0.0
        return float(np.max(np.stack(va) @ np.stack(vb).T))

    def evidence(self, a: int, b: int, threshold: float, rare_name: bool) -> tuple[str, float] | None:
        """The strongest reason to believe clusters a and b are one person, or None."""
        if self.coauthors[a] & self.coauthors[b]:
            return "name+coauthor", 0.95
        if self.institutions[a] & self.institutions[b]:
            return "name+affiliation", 0.9
        similarity = self.topical(a, b)
        if similarity >= threshold:
            return "name+topic", round(min(0.85, 0.4 + similarity / 2), 3)
        if rare_name and similarity >= RARE_NAME_TOPIC_THRESHOLD:
            return "rare-name+topic", round(0.4 + similarity / 2, 3)
        return None


def _name_blocks(mentions: list[Mention]) -> list[list[int]]:
    """Candidate groups: same sorted tokens, same letters (hyphen/space variants), or initials."""
    abbreviated_keys = {initials_key(m.tokens) for m in mentions if is_abbreviated(m.tokens)}
    parent: dict[str, str] = {}

    def find(k: str) -> str:
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    keys_of: list[list[str]] = []
    for m in mentions:
        keys = ["s:" + " ".join(sorted(m.tokens)), "c:" + "".join(sorted(m.tokens)), "c:" + "".join(m.tokens)]
        if is_abbreviated(m.tokens):
            keys = ["i:" + initials_key(m.tokens)]
        else:
            for family_first in (False, True):
                key = initials_key(m.tokens, family_first)
                if key in abbreviated_keys:
                    keys.append("i:" + key)
        keys_of.append(keys)
        for k in keys[1:]:
            parent[find(k)] = find(keys[0])
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, keys in enumerate(keys_of):
        blocks[find(keys[0])].append(i)
    return [b for b in blocks.values() if len(b) > 1]


def _names_agree(a: Mention, b: Mention) -> bool:
    if sorted(a.tokens) == sorted(b.tokens) or "".join(sorted(a.tokens)) == "".join(sorted(b.tokens)):
        return True
    if "".join(a.tokens) in ("".join(b.tokens), "".join(b.tokens[-1:] + b.tokens[:-1])):
        return True
    short, full = (a, b) if is_abbreviated(a.tokens) else (b, a)
    if not is_abbreviated(short.tokens) or is_abbreviated(full.tokens):
        return False
    for family_first in (False, True):
        if initials_key(full.tokens, family_first) == initials_key(short.tokens):
            return True
    return False


def resolve(
    works: list[Work], vectors: dict[str, np.ndarray], previous: dict[str, str] | None = None
) -> Resolution:
    mentions = mentions_of(works)
    clusters = _Clusters(mentions, vectors)
    frequency = NameFrequency(mentions)
    reasons: dict[int, tuple[str, float]] = {}

    # Rule 1: shared identifiers, across name spellings.
    by_identifier: dict[tuple[str, str], int] = {}
    for i, m in enumerate(mentions):
        for kind, value in m.identifiers.items():
            j = by_identifier.setdefault((kind, value), i)
            if j != i and not clusters.conflict(clusters.find(i), clusters.find(j)):
                clusters.union(i, j)
                reasons[i] = (kind, 1.0)
                reasons.setdefault(j, (kind, 1.0))

    # Rule 4: within each name block, merge on agreeing evidence until nothing changes.
    for block in _name_blocks(mentions):
        changed = True
        while changed:
            changed = False
            roots = sorted({clusters.find(i) for i in block})
            for x, a in enumerate(roots):
                for b in roots[x + 1 :]:
                    ra, rb = clusters.find(a), clusters.find(b)
                    if ra == rb or clusters.conflict(ra, rb):
                        continue
                    ma, mb = mentions[ra], mentions[rb]
                    if not _names_agree(ma, mb):
                        continue
                    abbreviated = is_abbreviated(ma.tokens) or is_abbreviated(mb.tokens)
                    found = clusters.evidence(
                        ra, rb,
                        INITIALS_TOPIC_THRESHOLD if abbreviated else TOPIC_THRESHOLD,
                        rare_name=not abbreviated and frequency.is_rare(ma.tokens),
                    )
                    if found:
                        clusters.union(ra, rb)
                        reasons.setdefault(rb, found)
                        reasons.setdefault(ra, found)
                        changed = True

    return _assign_ids(mentions, clusters, reasons, previous or {})


def _assign_ids(
    mentions: list[Mention], clusters: _Clusters, reasons: dict[int, tuple[str, float]], previous: dict[str, str]
) -> Resolution:
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(mentions)):
        groups[clusters.find(i)].append(i)
    # Largest clusters choose first, so a split keeps the old id on its bigger part.
    resolution = Resolution()
    taken: set[str] = set()
    for root, members in sorted(groups.items(), key=lambda kv: (-len(kv[1]), mentions[kv[0]].key)):
        votes = Counter(previous[mentions[i].key] for i in members if mentions[i].key in previous)
        rid = next((r for r, _ in votes.most_common() if r not in taken), None)
        if rid is None:
            ids = clusters.ids[root]
            kind = next((k for k in ID_KINDS if k in ids), None)
            anchor = f"{kind}:{min(ids[kind])}" if kind else f"name:{name_key(mentions[root].name)}|{min(mentions[i].key for i in members)}"
            rid = researcher_id(anchor)
            while rid in taken:
                rid = researcher_id(anchor + "+")
                anchor += "+"
        taken.add(rid)
        resolution.members[rid] = [mentions[i] for i in members]
        for i in members:
            m = mentions[i]
            if m.identifiers and len(members) > 1 and any(
                mentions[j].identifiers.get(k) == v for j in members if j != i for k, v in m.identifiers.items()
            ):
                method, confidence = next(iter(m.identifiers)), 1.0
            elif len(members) == 1:
                method, confidence = (next(iter(m.identifiers)), 1.0) if m.identifiers else ("name", 1.0)
            else:
                method, confidence = reasons.get(i, reasons.get(root, ("name", 0.8)))
            resolution.links[m.key] = Link(rid, method, confidence)
    return resolution
