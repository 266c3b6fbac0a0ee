"""Identity resolution against the sources' own ids, without letting the resolver see them.

    result = evaluate_identity([ML_VENUES], Settings())
    print(result.table())

Truth: mentions sharing a source id (ORCID, OpenAlex, OpenReview, dblp) are one person. Source ids
are noisy (ml-venues ids are sometimes shifted by one author), so an id whose mentions carry a name
incompatible with the id's most frequent name is *name-inconsistent* and dropped from the truth:
compatible as rule 1 of `indexer.identity` reads it, the family names matching and the given names
not contradicting (a shared family name is not enough: OpenReview's `~Yusen_Zhang1` on a "Nan
Zhang" mention). An OpenReview id spells its owner's name: one whose mentions all carry another,
incompatible name was shifted whole (`~Sergio_Casas_Romero1` on three "Raquel Urtasun" mentions)
and is dropped too. The truth clusters are the connected components of the remaining ids. Only
mentions with at least one kept id are scored.

Test: every identifier is removed from the works, `indexer.identity.resolve` runs on names,
co-authors, affiliations and vectors alone, and its clusters are compared with the truth:

* pairwise precision / recall / F1: over pairs of scored mentions, is a predicted same-person
  pair a true one (precision; an upper bound on wrong merges, since the truth is noisy) and is a
  true pair predicted (recall);
* B-cubed precision / recall (Bagga & Baldwin 1998): per mention, the share of its predicted
  cluster that is truly it, and of its true cluster that was predicted, averaged over mentions.

Held out: the rules were tuned looking only at *dev* names (folded name whose CRC32 is even); the
scores are reported on the other half, *test* names, unless another split is asked for. The
resolver always sees every work; the split only chooses which mentions are scored.

Per name-frequency band, the band of a mention being how many people would carry its name by chance
in this corpus (mentions x the share of mentions carrying each of its name parts): rare (< 0.5),
common (0.5-5), very common (5 or more). The listing of the 15 largest predicted
records among common and very common names is for checking by hand: each shows the true people
it holds with their names, affiliations and years.
"""

from __future__ import annotations

import time
import zlib
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Sequence

from evaluation.collaborators import ML_VENUES, read_works
from evaluation.scratch import cached_vectors
from indexer import identity
from models.records import Work
from models.settings import Settings
from search import text as T
from search.interface import Progress

BANDS = (("rare", 0.0, 0.5), ("common", 0.5, 5.0), ("very common", 5.0, float("inf")))
LARGEST = 15
SPLITS = ("test", "dev", "all")


def _key(name: str) -> str:
    return " ".join(sorted(T.normalize_name(name).split()))


def in_split(name: str, split: str) -> bool:
    return split == "all" or (zlib.crc32(_key(name).encode()) % 2 == 0) == (split == "dev")


def truth_clusters(works: Sequence[Work]) -> tuple[dict[str, str], int]:
    """Mention key -> true cluster label, and how many name-inconsistent ids were dropped."""
    names_of: dict[tuple[str, str], list[str]] = defaultdict(list)
    carriers: dict[tuple[str, str], list[str]] = defaultdict(list)
    for w in works:
        for a in w.authorships:
            for kind, value in a.identifiers().items():
                names_of[(kind, value)].append(T.normalize_name(a.name))
                carriers[(kind, value)].append(f"{w.id}#{a.position}")
    dropped = set()
    for ident, names in names_of.items():
        main = Counter(names).most_common(1)[0][0].split()
        spelled = identity.id_name(*ident)
        if any(not identity.names_compatible(n.split(), main) for n in set(names)) or (
                spelled and not identity.names_compatible(spelled, main)):
            dropped.add(ident)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for ident, keys in carriers.items():
        if ident in dropped:
            continue
        for k in keys:
            parent[find(k)] = find(keys[0])
    labelled = {k for ident, keys in carriers.items() if ident not in dropped for k in keys}
    return {k: find(k) for k in labelled}, len(dropped)


def hide_identifiers(works: Sequence[Work]) -> list[Work]:
    blank = {"orcid": None, "openalex_id": None, "openreview_id": None, "dblp_id": None}
    return [replace(w, authorships=[replace(a, **blank) for a in w.authorships]) for w in works]


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


@dataclass
class Scores:
    band: str
    mentions: int
    people: int
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    bcubed_precision: float
    bcubed_recall: float


def score(predicted: dict[str, str], truth: dict[str, str], keys: Sequence[str], band: str) -> Scores:
    """Pairwise and B-cubed scores of the mentions `keys` (clusters restricted to scored mentions)."""
    pred_size = Counter(predicted[k] for k in truth)
    true_size = Counter(truth.values())
    cell = Counter((predicted[k], truth[k]) for k in truth)
    chosen = Counter((predicted[k], truth[k]) for k in keys)
    # pairs with at least one end in `keys`, counted among the scored mentions of `keys`' clusters
    tp = sum(_pairs(n) for n in chosen.values())
    pred_pairs = sum(_pairs(n) for n in Counter(predicted[k] for k in keys).values())
    true_pairs = sum(_pairs(n) for n in Counter(truth[k] for k in keys).values())
    bp = sum(cell[(predicted[k], truth[k])] / pred_size[predicted[k]] for k in keys)
    br = sum(cell[(predicted[k], truth[k])] / true_size[truth[k]] for k in keys)
    p = tp / pred_pairs if pred_pairs else 1.0
    r = tp / true_pairs if true_pairs else 1.0
    n = len(keys) or 1
    return Scores(band, len(keys), len({truth[k] for k in keys}), round(p, 4), round(r, 4),
                  round(2 * p * r / (p + r), 4) if p + r else 0.0, round(bp / n, 4), round(br / n, 4))


@dataclass
class IdentityResult:
    corpus: list[str]
    works: int
    mentions: int
    scored_mentions: int
    dropped_ids: int
    predicted_researchers: int
    split: str
    bands: list[Scores]
    overall: Scores
    largest: list[dict] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        lines = [
            f"identity resolution with source ids hidden: {self.scored_mentions} of {self.mentions} mentions scored "
            f"against id clusters ({self.dropped_ids} name-inconsistent ids dropped; {self.split} names), {self.works} works "
            f"({', '.join(Path(c).name for c in self.corpus)}), {self.predicted_researchers} researchers resolved",
            "",
            f"{'band':<13}{'mentions':>9}{'people':>8}{'pair P':>8}{'pair R':>8}{'pair F1':>8}{'B3 P':>8}{'B3 R':>8}",
        ]
        for s in [*self.bands, self.overall]:
            lines.append(f"{s.band:<13}{s.mentions:>9}{s.people:>8}{s.pairwise_precision:>8.4f}{s.pairwise_recall:>8.4f}"
                         f"{s.pairwise_f1:>8.4f}{s.bcubed_precision:>8.4f}{s.bcubed_recall:>8.4f}")
        lines.append(f"\n{len(self.largest)} largest resolved records among common and very common names "
                     "(true people inside, by source id):")
        for r in self.largest:
            verdict = "one person" if len(r["people"]) == 1 else f"MIXES {len(r['people'])} people"
            lines.append(f"  {r['name']!r}: {r['mentions']} mentions, {r['scored']} with a source id: {verdict}")
            for p in r["people"][:6]:
                lines.append(f"      {p['mentions']:>4} x {', '.join(p['names'])} | {p['years']} | {'; '.join(p['affiliations']) or '-'}")
        lines.append(f"\n({', '.join(f'{k} {v:.1f}s' for k, v in self.seconds.items())})")
        return "\n".join(lines)


def evaluate_identity(
    corpus: Sequence[Path],
    settings: Settings,
    vector_cache: Path | None = None,
    progress: Progress | None = None,
    scratch_dir: Path | None = None,
    split: str = "test",
) -> IdentityResult:
    """`scratch_dir` is accepted for the CLI's common options and unused: nothing is indexed."""
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    works = read_works(corpus or [ML_VENUES])
    vectors = cached_vectors(works, settings.embedder(), Path(vector_cache or Path(settings.data_dir) / "vector-cache.sqlite"), progress)
    seconds["load"] = time.perf_counter() - clock
    truth, dropped = truth_clusters(works)

    clock = time.perf_counter()
    resolution = identity.resolve(hide_identifiers(works), vectors)
    seconds["resolve"] = time.perf_counter() - clock
    predicted = {k: link.researcher_id for k, link in resolution.links.items()}
    by_key = {f"{w.id}#{a.position}": a for w in works for a in w.authorships}
    truth = {k: v for k, v in truth.items() if k in predicted and in_split(by_key[k].name, split)}
    parts = Counter(t for w in works for a in w.authorships for t in set(T.normalize_name(a.name).split()))
    total = sum(len(w.authorships) for w in works)

    def band_of(k: str) -> str:
        expected = float(total)
        for token in set(T.normalize_name(by_key[k].name).split()):
            expected *= parts[token] / total
        return next(name for name, low, high in BANDS if low <= expected < high)

    bands = [score(predicted, truth, [k for k in truth if band_of(k) == name], name) for name, _, _ in BANDS]
    overall = score(predicted, truth, list(truth), "all")

    year_of = {w.id: w.year for w in works}
    members: dict[str, list[str]] = defaultdict(list)
    for k in truth:
        members[predicted[k]].append(k)
    size = {rid: len(ms) for rid, ms in resolution.members.items()}
    common = [(rid, ks) for rid, ks in members.items() if Counter(band_of(k) for k in ks).most_common(1)[0][0] != "rare"]
    largest = []
    for rid, ks in sorted(common, key=lambda item: (-size[item[0]], item[0]))[:LARGEST]:
        groups: dict[str, list[str]] = defaultdict(list)
        for k in ks:
            groups[truth[k]].append(k)
        people = []
        for label, gk in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            years = sorted(y for y in (year_of[k.split("#")[0]] for k in gk) if y)
            affiliations = Counter(i.name for k in gk for i in by_key[k].institutions)
            people.append({"mentions": len(gk), "names": sorted({by_key[k].name for k in gk}),
                           "years": f"{years[0]}-{years[-1]}" if years else "-",
                           "affiliations": [a for a, _ in affiliations.most_common(2)]})
        name = Counter(by_key[k].name for k in ks).most_common(1)[0][0]
        largest.append({"name": name, "mentions": size[rid], "scored": len(ks), "people": people})

    return IdentityResult([str(c) for c in corpus], len(works), len(predicted), len(truth), dropped,
                          len(resolution.members), split, bands, overall, largest, seconds)
