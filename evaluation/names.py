"""People search on name variants: can a user who types a name the way they remember it find the person?

    result = evaluate_names([ML_VENUES], Settings())
    print(result.table())

The test set is built from the corpus's own source ids (the identity evaluation's truth: mentions
sharing a name-consistent ORCID, OpenAlex, OpenReview or dblp id are one person), never from the
resolved records, so two versions of the identity rules are scored on the same queries. For a seeded
sample of people whose usual name has a given and a family name, each variant kind yields one query:

    exact          "Ziyin Liu"           the display name as indexed (a control)
    reordered      "Liu Ziyin"           family name first
    comma          "Liu, Ziyin"          family name first, as bibliographies write it
    no_diacritics  "Zoltan Szabo"        for "Zoltán Szabó" (only names with diacritics)
    initials       "Z. Liu"              given names as initials
    typo           "Ziyin Lu"            one edit (deletion, insertion, substitution or swap) in one
                                          name of at least four letters, never the first letter

After indexing, each query's target is the researcher record holding most of that person's
mentions (a person the rules split is found only through that record). Every query goes through
`Discovery.search_people` (mode `auto`, as the search box does) and is scored recall@1 and
recall@5: is the target the first hit / among the first five?

Fairness: a query another person could equally have meant is not held against the engine. People
whose folded name another person of the id truth also carries are not sampled; an `initials` query
whose initials and family name fit a name another mention in the corpus carries, in either name
order ("Z. Liu"), is *ambiguous*, reported apart, and scored as found when the first hit is the
target or a record holding such a mention; a typo that spells a name some other mention carries is
regenerated.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from unidecode import unidecode

from evaluation import metrics as M
from evaluation.collaborators import ML_VENUES, read_works
from evaluation.identity import truth_clusters
from evaluation.scratch import scratch_index
from models.embedding import Embedder
from models.records import Work
from models.settings import Settings
from search import text as T

KINDS = ("exact", "reordered", "comma", "no_diacritics", "initials", "typo")
TARGET_RECALL_AT_1 = 0.95


@dataclass(frozen=True)
class Variant:
    researcher_id: str
    name: str
    kind: str
    query: str
    accept: tuple[str, ...] = ()
    """Other researcher ids an ambiguous query fits."""
    ambiguous: bool = False
    """The query fits another person's name too (decided on the corpus, whatever the records)."""


@dataclass(frozen=True)
class Query:
    """One query for one person of the id truth, before any identity rule runs."""

    person: tuple[str, ...]  # the person's mention keys (`<work id>#<position>`)
    name: str
    kind: str
    query: str
    others: tuple[str, ...] = ()  # mention keys of other people an ambiguous query fits


def _tokens(name: str) -> list[str]:
    return name.replace(",", " ").split()


def _family_given(name: str) -> tuple[list[str], str] | None:
    """(given tokens, family) of a "Given [Middle] Family" name; None for a single word or initials only."""
    tokens = _tokens(name)
    if len(tokens) < 2:
        return None
    given, family = tokens[:-1], tokens[-1]
    if len(family.strip(".")) < 2 or all(len(t.strip(".")) <= 1 for t in given):
        return None
    return given, family


def _initial(token: str) -> str:
    parts = [p for p in token.replace(".", " ").replace("-", " ").split() if p]
    return " ".join(p[0].upper() + "." for p in parts)


def typo(name: str, rng: random.Random) -> str | None:
    """One edit in one token of at least four letters (never its first letter); None if none qualifies."""
    tokens = _tokens(name)
    candidates = [i for i, t in enumerate(tokens) if len(t) >= 4 and t.isalpha()]
    if not candidates:
        return None
    index = rng.choice(candidates)
    word = tokens[index]
    pos = rng.randrange(1, len(word))
    letters = "abcdefghijklmnopqrstuvwxyz"
    op = rng.choice(("delete", "insert", "substitute", "swap"))
    if op == "delete":
        new = word[:pos] + word[pos + 1 :]
    elif op == "insert":
        new = word[:pos] + rng.choice(letters) + word[pos:]
    elif op == "substitute":
        new = word[:pos] + rng.choice([c for c in letters if c != word[pos].lower()]) + word[pos + 1 :]
    else:
        pos = min(pos, len(word) - 2)
        if pos < 1 or word[pos] == word[pos + 1]:
            new = word[:pos] + word[pos + 1 :]
        else:
            new = word[:pos] + word[pos + 1] + word[pos] + word[pos + 2 :]
    if new == word:
        return None
    tokens[index] = new
    return " ".join(tokens)


def variants_of(name: str, rng: random.Random) -> dict[str, str]:
    """Kind -> query for one display name (kinds that do not apply are left out)."""
    found = {"exact": name}
    split = _family_given(name)
    if split:
        given, family = split
        found["reordered"] = " ".join([family, *given])
        found["comma"] = f"{family}, {' '.join(given)}"
        found["initials"] = " ".join([*(_initial(g) for g in given), family])
    folded = unidecode(name)
    if folded != name and T.normalize_name(folded) == T.normalize_name(name):
        found["no_diacritics"] = folded
    misspelt = typo(name, rng)
    if misspelt:
        found["typo"] = misspelt
    return found


def _initials_key(name: str) -> str | None:
    split = _family_given(name)
    if not split:
        return None
    given, family = split
    return T.normalize_name(family) + " " + T.normalize_name(given[0])[:1]


def _initials_keys_any_order(name: str) -> set[str]:
    """Initials keys of a name read given-first and family-first: people search ignores name order,
    so "Y. Dong" fits "Dong Yu" as well as "Yuxuan Dong"."""
    keys = {_initials_key(name)}
    tokens = _tokens(name)
    if len(tokens) >= 2:
        keys.add(_initials_key(" ".join([*tokens[1:], tokens[0]])))
    return {k for k in keys if k}


def _folded(name: str) -> str:
    return " ".join(sorted(T.normalize_name(name).split()))


def build_queries(works: Sequence[Work], sample: int = 500, seed: int = 11) -> list[Query]:
    """The test set over the corpus's id truth: a seeded sample of unambiguously named people, every
    applicable kind, plus up to a fifth more people whose names carry diacritics. It depends on the
    works alone, so every rule version is graded on the same queries."""
    rng = random.Random(seed)
    truth, _ = truth_clusters(works)
    name_of = {f"{w.id}#{a.position}": a.name for w in works for a in w.authorships}
    people: dict[str, list[str]] = defaultdict(list)
    for key in sorted(truth):
        people[truth[key]].append(key)
    owner = {key: truth.get(key, key) for key in name_of}  # a mention without an id stands for itself
    carriers: dict[str, set[str]] = defaultdict(set)  # folded name -> people and lone mentions carrying it
    by_initials: dict[str, set[str]] = defaultdict(set)
    for key, name in name_of.items():
        carriers[_folded(name)].add(owner[key])
        for initials in _initials_keys_any_order(name):
            by_initials[initials].add(key)

    def usual_name(keys: list[str]) -> str:
        return min(Counter(name_of[k] for k in keys).items(), key=lambda kv: (-kv[1], kv[0]))[0]

    def usable(label: str, name: str) -> bool:
        return bool(T.normalize_name(name)) and _family_given(name) is not None and {
            p for p in carriers[_folded(name)] if p in people} == {label}

    named = {label: usual_name(keys) for label, keys in people.items()}
    pool = sorted(label for label, name in named.items() if usable(label, name))
    chosen = rng.sample(pool, min(sample, len(pool)))
    taken = set(chosen)
    accented = [label for label in pool if label not in taken and unidecode(named[label]) != named[label]]
    chosen += rng.sample(accented, min(len(accented), max(1, sample // 5)))

    out: list[Query] = []
    for label in chosen:
        name, person = named[label], tuple(people[label])
        for kind, query in variants_of(name, rng).items():
            others: tuple[str, ...] = ()
            if kind == "typo":
                for _ in range(5):  # a typo must not spell a name another mention carries
                    if carriers.get(_folded(query), {label}) <= {label}:
                        break
                    query = typo(name, rng) or query
                else:
                    continue
            if kind == "initials":
                others = tuple(sorted(k for k in by_initials.get(_initials_key(name) or "", set()) if owner[k] != label))
            out.append(Query(person, name, kind, query, others))
    return out


def bind(queries: Sequence[Query], mentions: dict[str, str]) -> list[Variant]:
    """The queries as variants of one build: each targets the record holding most of its person's
    mentions (`mentions`: mention key -> researcher id, as that build resolved them)."""
    out = []
    for q in queries:
        held = Counter(mentions[k] for k in q.person if k in mentions)
        if not held:
            continue
        target = min(held.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        accept = tuple(sorted({mentions[k] for k in q.others if k in mentions} - {target}))
        out.append(Variant(target, q.name, q.kind, q.query, accept, ambiguous=bool(q.others)))
    return out


@dataclass
class KindScores:
    kind: str
    queries: int
    recall_at_1: float
    recall_at_5: float
    ambiguous: int = 0
    ambiguous_recall_at_1: float | None = None
    """For ambiguous variants: the first hit is the target or another researcher the query fits."""


@dataclass
class NamesResult:
    corpus: list[str]
    engine: str
    researchers: int
    sampled_researchers: int
    kinds: list[KindScores]
    overall: KindScores
    failures: list[dict] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["meets_target"] = self.overall.recall_at_1 >= TARGET_RECALL_AT_1
        return data

    def table(self, failures: int = 15) -> str:
        lines = [
            f"people search on name variants: {self.sampled_researchers} people sampled from the source ids, "
            f"{self.researchers} researchers resolved ({', '.join(Path(c).name for c in self.corpus)}), engine {self.engine}",
            "",
            f"{'variant':<15}{'queries':>9}{'recall@1':>10}{'recall@5':>10}{'ambiguous':>11}{'amb. r@1':>10}",
        ]
        for k in [*self.kinds, self.overall]:
            amb = f"{k.ambiguous_recall_at_1:.4f}" if k.ambiguous_recall_at_1 is not None else "-"
            lines.append(f"{k.kind:<15}{k.queries:>9}{k.recall_at_1:>10.4f}{k.recall_at_5:>10.4f}{k.ambiguous:>11}{amb:>10}")
        verdict = "meets" if self.overall.recall_at_1 >= TARGET_RECALL_AT_1 else "BELOW"
        lines.append(f"\nrecall@1 over unambiguous variants {self.overall.recall_at_1:.4f}: {verdict} the {TARGET_RECALL_AT_1} target")
        if self.failures and failures:
            lines.append(f"\nfirst {min(failures, len(self.failures))} of {len(self.failures)} misses (kind: query -> first hit | target):")
            for f in self.failures[:failures]:
                lines.append(f"  {f['kind']}: {f['query']!r} -> {f['first_hit']!r} [{f['by']}] | {f['name']!r}")
        lines.append(f"\n({', '.join(f'{k} {v:.1f}s' for k, v in self.seconds.items())})")
        return "\n".join(lines)


def score_variants(service, variants: Sequence[Variant]) -> tuple[list[KindScores], KindScores, list[dict]]:
    """Run each variant through `service.search_people` and score it per kind and overall."""
    from search.interface import SearchError

    per_kind: dict[str, list[tuple[float, float]]] = defaultdict(list)
    ambiguous: dict[str, list[float]] = defaultdict(list)
    failures: list[dict] = []
    for v in variants:
        try:
            results = service.search_people(v.query, limit=5)
            hits, by = [h.researcher for h in results.hits], results.by
        except SearchError:
            hits, by = [], "error"
        ids = [h.id for h in hits]
        if v.ambiguous:
            ambiguous[v.kind].append(1.0 if ids[:1] and ids[0] in {v.researcher_id, *v.accept} else 0.0)
            continue
        r1, r5 = M.recall_at_k(ids, {v.researcher_id}, 1), M.recall_at_k(ids, {v.researcher_id}, 5)
        per_kind[v.kind].append((r1, r5))
        if r1 < 1.0:
            failures.append({"kind": v.kind, "query": v.query, "name": v.name, "researcher": v.researcher_id,
                             "first_hit": hits[0].name if hits else None, "by": by, "in_top5": bool(r5)})
    kinds = []
    for kind in KINDS:
        scored, amb = per_kind.get(kind, []), ambiguous.get(kind, [])
        if not scored and not amb:
            continue
        kinds.append(KindScores(kind, len(scored), M.mean(s[0] for s in scored), M.mean(s[1] for s in scored),
                                len(amb), M.mean(amb) if amb else None))
    every = [s for scored in per_kind.values() for s in scored]
    every_amb = [a for amb in ambiguous.values() for a in amb]
    overall = KindScores("all", len(every), M.mean(s[0] for s in every), M.mean(s[1] for s in every),
                         len(every_amb), M.mean(every_amb) if every_amb else None)
    return kinds, overall, failures


def evaluate_names(
    paths: Sequence[Path] = (ML_VENUES,),
    settings: Settings | None = None,
    sample: int = 500,
    seed: int = 11,
    embedder: Embedder | None = None,
    vector_cache: Path | None = None,
    scratch_dir: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> NamesResult:
    """Index the corpus on the configured engine in a scratch place, build the variants, score them."""
    settings = settings or Settings()
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    works = read_works(paths)
    queries = build_queries(works, sample, seed)
    with scratch_index(works, settings, embedder, vector_cache, scratch_dir, progress=progress) as built:
        seconds["index"] = time.perf_counter() - clock
        clock = time.perf_counter()
        researchers = list(built.corpus.researchers())
        variants = bind(queries, built.catalog_mentions)
        kinds, overall, failures = score_variants(built.discovery, variants)
        seconds["search"] = time.perf_counter() - clock
        engine_name = built.settings.engine
    return NamesResult(
        corpus=[str(p) for p in paths],
        engine=engine_name,
        researchers=len(researchers),
        sampled_researchers=len({q.person for q in queries}),
        kinds=kinds,
        overall=overall,
        failures=failures,
        seconds={k: round(v, 2) for k, v in seconds.items()},
    )
