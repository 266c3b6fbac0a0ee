"""The trust snapshot: how much the record itself tells us that this researcher is who it says.

No opaque number. The score is the sum of the components below, each computed from the indexed
record and shown with its points and the evidence behind them. Nothing here is hard-coded per
person; the same rules score every profile.

Components (maximum 100 points)
===============================

============================  ======  ==============================================================
Component                     Max     Points
============================  ======  ==============================================================
Source identifiers linked     20      10 per distinct kind linking the record: ORCID, OpenAlex,
                                      OpenReview, dblp; minus 10 per identity conflict (one of the
                                      record's ids also found on a mention whose name does not fit:
                                      a shifted id or a wrong merge), never below 0
Works                         20      1 per indexed work
Co-author network             15      1 per distinct co-author across those works
Consistent affiliation        10      10 x the share of the researcher's works that carry their most
                                      frequent affiliation (0 when no affiliation is known): one
                                      affiliation on every work is consistent, twelve are not
Years active                  10      1 per calendar year from first to last work, inclusive
Citation impact (h-index)      5      1 per point of h-index (from the sources' citation counts)
Claim status                  20      20 once an admin approves an account's claim (level L3); 0
                                      while unclaimed, and 0 while a claim awaits review (anyone
                                      can claim; only the admin's check adds trust)
============================  ======  ==============================================================

Bands by score
==============
0–24 **Emerging** · 25–49 **Established** · 50–74 **Trusted** · 75–100 **Verified**

Verification levels
===================
* **L0** — name only: the record is linked to its works by name plus evidence (co-authors,
  affiliation, topic), no source identifier.
* **L1** — a source identifier (ORCID, OpenAlex, OpenReview or dblp) links the record.
* **L2** is never shown for a pending claim: anyone can claim, so until an admin decides the
  record keeps the level it earned (L0 or L1) and the profile says "claim pending" beside it.
* **L3** — an admin approved the claim: the account owns the record (one account per record).

The claim facts come from the accounts database (`models.accounts.auth.facts_for`); the claim row of
the breakdown names the claim (its number and dates).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

from search.service import Profile

IDENTIFIER_LABELS = {"orcid": "ORCID", "openalex": "OpenAlex", "openreview": "OpenReview", "dblp": "dblp"}

POINTS_PER_IDENTIFIER, MAX_IDENTIFIERS = 10, 20
POINTS_PER_WORK, MAX_WORKS = 1, 20
POINTS_PER_COAUTHOR, MAX_NETWORK = 1, 15
MAX_AFFILIATION = 10
POINTS_PER_YEAR, MAX_YEARS = 1, 10
POINTS_PER_H, MAX_IMPACT = 1, 5
CLAIM_APPROVED_POINTS = 20
POINTS_PER_CONFLICT = 10

BANDS: tuple[tuple[int, str], ...] = ((75, "Verified"), (50, "Trusted"), (25, "Established"), (0, "Emerging"))
"""(lowest score, band name), highest first."""

LEVELS = {
    "L0": "Name only: linked by name plus evidence, no source identifier",
    "L1": "A source identifier links this record",
    "L3": "Claim approved by an admin",
}


@dataclass(frozen=True)
class Component:
    key: str
    label: str
    points: int
    max_points: int
    evidence: str
    rule: str


def band(score: int) -> str:
    for low, name in BANDS:
        if score >= low:
            return name
    return BANDS[-1][1]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


CLAIM_EVIDENCE = {
    "approved": "Claim approved by an admin",
    "claimed": "Claimed by an account, awaiting admin approval",
    "contested": "Contested: several accounts claim this record; an admin decides",
}
UNCLAIMED_EVIDENCE = "Unclaimed: no account has claimed this author record"


def components(p: Profile, claim_status: str = "unclaimed", claim_evidence: str | None = None) -> list[Component]:
    doc = p.researcher
    out: list[Component] = []

    kinds = [k for k in IDENTIFIER_LABELS if doc.identifiers.get(k)]
    conflicts = list(doc.identity_conflicts)
    evidence = (", ".join(f"{IDENTIFIER_LABELS[k]} {doc.identifiers[k]}" for k in kinds)
                or "No ORCID, OpenAlex, OpenReview or dblp identifier in the imported records")
    if conflicts:
        evidence += f"; {_plural(len(conflicts), 'identity conflict')}: " + "; ".join(conflicts[:3])
    out.append(Component(
        "identifiers", "Source identifiers linked",
        max(0, min(MAX_IDENTIFIERS, POINTS_PER_IDENTIFIER * len(kinds)) - POINTS_PER_CONFLICT * len(conflicts)),
        MAX_IDENTIFIERS, evidence,
        f"{POINTS_PER_IDENTIFIER} per identifier kind, minus {POINTS_PER_CONFLICT} per identity conflict",
    ))

    works = len(p.works)
    out.append(Component(
        "works", "Works", min(MAX_WORKS, POINTS_PER_WORK * works), MAX_WORKS,
        f"{_plural(works, 'work')} indexed", f"{POINTS_PER_WORK} per work",
    ))

    coauthors = len(p.collaborators)
    repeat = sum(1 for c in p.collaborators if c.joint_works > 1)
    out.append(Component(
        "network", "Co-author network", min(MAX_NETWORK, POINTS_PER_COAUTHOR * coauthors), MAX_NETWORK,
        f"{_plural(coauthors, 'distinct co-author')}, {repeat} on more than one work",
        f"{POINTS_PER_COAUTHOR} per distinct co-author",
    ))

    spans = list(doc.institutions)
    if spans:
        by_works = Counter({s.name: s.works for s in spans})
        main, main_works = sorted(by_works.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        evidence = f"{main} on {_plural(main_works, 'work')}"
        if len(spans) > 1:
            evidence += f"; {len(spans) - 1} other affiliation{'s' if len(spans) > 2 else ''} on record"
        share = min(1.0, main_works / max(1, len(p.works)))
        evidence += f" ({share:.0%} of works)"
        points = round(MAX_AFFILIATION * share)
    else:
        evidence, points = "Affiliation not imported", 0
    out.append(Component(
        "affiliation", "Consistent affiliation", points, MAX_AFFILIATION, evidence,
        f"{MAX_AFFILIATION} x the share of works with the most frequent affiliation",
    ))

    years = [w.year for w in p.works if w.year]
    if years:
        first, last = min(years), max(years)
        span = last - first + 1
        evidence = f"{first}–{last} ({_plural(span, 'year')})" if span > 1 else f"{first} (1 year)"
    else:
        span, evidence = 0, "No dated works"
    out.append(Component(
        "years", "Years active", min(MAX_YEARS, POINTS_PER_YEAR * span), MAX_YEARS, evidence,
        f"{POINTS_PER_YEAR} per year from first to last work",
    ))

    h = max(0, int(doc.h_index or 0))
    out.append(Component(
        "impact", "Citation impact", min(MAX_IMPACT, POINTS_PER_H * h), MAX_IMPACT,
        f"h-index {h} from {_plural(int(doc.cited_by_count or 0), 'citation')} in the sources",
        f"{POINTS_PER_H} per point of h-index",
    ))

    approved = claim_status == "approved"
    out.append(Component(
        "claim", "Claim status", CLAIM_APPROVED_POINTS if approved else 0, CLAIM_APPROVED_POINTS,
        claim_evidence or CLAIM_EVIDENCE.get(claim_status, UNCLAIMED_EVIDENCE),
        f"{CLAIM_APPROVED_POINTS} once a claim is approved",
    ))
    return out


def level(p: Profile, claim_status: str = "unclaimed") -> str:
    if claim_status == "approved":
        return "L3"
    if any(p.researcher.identifiers.get(k) for k in IDENTIFIER_LABELS):
        return "L1"
    return "L0"


def snapshot(p: Profile, claim_status: str = "unclaimed", claim_evidence: str | None = None) -> dict:
    """`{score, max_score, band, level, level_description, claim_status, components: [...]}`.

    `claim_status`: unclaimed | claimed | contested | approved; `claim_evidence` names the claim."""
    parts = components(p, claim_status, claim_evidence)
    score = sum(c.points for c in parts)
    lvl = level(p, claim_status)
    return {
        "score": score,
        "max_score": sum(c.max_points for c in parts),
        "band": band(score),
        "bands": [{"name": name, "from": low} for low, name in reversed(BANDS)],
        "level": lvl,
        "level_description": LEVELS[lvl],
        "claim_status": claim_status,
        "components": [asdict(c) for c in parts],
    }
