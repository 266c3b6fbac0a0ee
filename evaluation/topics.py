"""Topic quality on held-out source labels: hide what the sources say, derive, compare.

    result = evaluate_topics([OPENALEX_SAMPLE, ML_VENUES], Settings(), context=[ARXIV_SAMPLE])
    print(result.table())

Protocol:
1. The works of the `hidden` corpora lose their source labels (OpenAlex concepts and their level-0
   field, ml-venues keywords) before anything is computed, embeddings included; the `context`
   corpora (arXiv categories) keep theirs, as a catalog would.
2. `indexer.topics.assign_topics` runs on everything, as `discovery index` does.
   Only works of the chosen split are scored: a hash of the work id puts each hidden work in `dev`
   (where the rules and constants of indexer.topics were tuned) or `test` (held out, reported).
3. Field level (works whose hidden labels name a field): normalised mutual information and
   adjusted Rand index between the hidden field and the work's heaviest derived field.
4. Topic level (works with hidden topic labels): label-word overlap between the topics the work
   received and its hidden labels, both through `label_key` (singular, lower case) minus stopwords:
   `word hit` = share of works where they share a word, `word precision` = share of the received
   label words found among the hidden ones (mean over works).
5. Grounding (derived topics): share of a topic's works whose title + abstract contains its label
   (each comma-separated part, as a run of normalised words); macro over topics and micro over
   (topic, work) pairs, for all derived topics and per level (a field's label is broad by nature:
   once every work has a field, the field pairs weigh on the micro figure).
"""

from __future__ import annotations

import time
import zlib
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Sequence

from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from evaluation.scratch import SHARED_DATA, cached_vectors, default_vector_cache
from indexer.sources import read_records
from indexer.topics import assign_topics, label_key
from models.records import TopicRef, Work
from models.settings import Settings
from search import text as T
from search.interface import Progress

OPENALEX_SAMPLE = SHARED_DATA / "openalex-works-sample.jsonl.gz"
ML_VENUES = SHARED_DATA / "ml-venues.openalex.jsonl.gz"
ARXIV_SAMPLE = SHARED_DATA / "arxiv-metadata-sample.jsonl"
SEED = SHARED_DATA / "seed-researcher.openalex.jsonl"
SPLITS = ("test", "dev", "all")


def in_split(work_id: str, split: str) -> bool:
    """Half the hidden works (by a hash of their id) are dev, for tuning; the other half test."""
    return split == "all" or (zlib.crc32(work_id.encode()) % 2 == 0) == (split == "dev")


@dataclass
class CorpusScores:
    works: int
    field_works: int = 0
    nmi: float | None = None
    ari: float | None = None
    topic_works: int = 0
    word_hit: float | None = None
    word_precision: float | None = None
    topics_per_work: float = 0.0


@dataclass
class TopicEvaluation:
    corpora: dict[str, CorpusScores]
    derived_topics: int
    grounding_macro: float
    grounding_micro: float
    seconds: float
    grounding_by_level: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Level ("topic", "field") -> (macro, micro) grounding: a field's label is broad by nature."""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        def num(value: float | None) -> str:
            return "-" if value is None else f"{value:.3f}"

        lines = [
            f"{'corpus (labels hidden)':28} {'works':>6} {'field n':>7} {'NMI':>6} {'ARI':>6} "
            f"{'topic n':>7} {'word hit':>8} {'word prec':>9} {'topics/work':>11}"
        ]
        for name, s in self.corpora.items():
            lines.append(
                f"{name:28} {s.works:>6} {s.field_works:>7} {num(s.nmi):>6} {num(s.ari):>6} {s.topic_works:>7} "
                f"{num(s.word_hit):>8} {num(s.word_precision):>9} {s.topics_per_work:>11.2f}"
            )
        lines.append(
            f"derived topics: {self.derived_topics}; label grounding: {self.grounding_macro:.3f} (macro over topics), "
            f"{self.grounding_micro:.3f} (micro over topic-work pairs); {self.seconds:.0f} s to derive"
        )
        lines.append("grounding by level (macro/micro): " + ", ".join(
            f"{level} {macro:.3f}/{micro:.3f}" for level, (macro, micro) in self.grounding_by_level.items()))
        return "\n".join(lines + self.notes)


def _read(path: Path) -> list[Work]:
    return [parsed.work for parsed in read_records(path) if parsed.work]


def _words(labels: Sequence[str]) -> set[str]:
    return {w for label in labels for w in label_key(label).split() if w not in T.STOPWORDS}


def _grounded(label: str, text_key: str) -> bool:
    parts = [label_key(part) for part in label.split(",")]
    return all(part and f" {part} " in text_key for part in parts)


def evaluate_topics(
    hidden: Sequence[Path],
    settings: Settings,
    context: Sequence[Path] = (),
    vector_cache: Path | None = None,
    progress: Progress | None = None,
    split: str = "test",
) -> TopicEvaluation:
    truth: dict[str, tuple[str, str | None, list[str]]] = {}  # work id -> (corpus, field, topic labels)
    works: list[Work] = []
    for path in hidden:
        for work in _read(path):
            fields = list(dict.fromkeys(work.topic_fields.values()))
            truth[work.id] = (Path(path).name, fields[0] if fields else None, work.source_topics + work.keywords)
            works.append(replace(work, source_topics=[], keywords=[], topic_fields={}))
    for path in context:
        works.extend(w for w in _read(path) if w.id not in truth)
    vectors = cached_vectors(works, settings.embedder(), Path(vector_cache or default_vector_cache(settings)), progress)
    clock = time.perf_counter()
    work_topics, origin = assign_topics(works, vectors)
    seconds = time.perf_counter() - clock
    result = score_topics(truth, works, work_topics, origin, split)
    result.seconds = seconds
    result.notes = [f"split: {split}; hidden: {', '.join(Path(p).name for p in hidden)}; context (labels kept): "
                    f"{', '.join(Path(p).name for p in context) or 'none'}"]
    return result


def score_topics(
    truth: dict[str, tuple[str, str | None, list[str]]],
    works: Sequence[Work],
    work_topics: dict[str, list[TopicRef]],
    origin: dict[str, str],
    split: str = "test",
) -> TopicEvaluation:
    """Scores of derived topics against the hidden labels in `truth` (work id -> corpus, field, topic labels)."""
    by_corpus: dict[str, list[str]] = defaultdict(list)
    for wid, (corpus, _, _) in truth.items():
        if in_split(wid, split):
            by_corpus[corpus].append(wid)
    scores = {}
    for corpus, wids in by_corpus.items():
        s = CorpusScores(works=len(wids))
        with_field = [w for w in wids if truth[w][1] and work_topics.get(w)]
        if with_field:
            predicted = [_heaviest_field(work_topics[w]) for w in with_field]
            s.field_works = len(with_field)
            s.nmi = float(normalized_mutual_info_score([truth[w][1] for w in with_field], predicted))
            s.ari = float(adjusted_rand_score([truth[w][1] for w in with_field], predicted))
        hits, precisions, counts = [], [], []
        for w in wids:
            received = [t.label for t in work_topics.get(w, []) if t.level == "topic"]
            counts.append(len(received))
            expected = _words(truth[w][2])
            if expected:
                got = _words(received)
                hits.append(bool(got & expected))
                precisions.append(len(got & expected) / len(got) if got else 0.0)
        s.topic_works = len(hits)
        s.word_hit = sum(hits) / len(hits) if hits else None
        s.word_precision = sum(precisions) / len(precisions) if precisions else None
        s.topics_per_work = sum(counts) / len(counts) if counts else 0.0
        scores[corpus] = s

    texts = {w.id: " " + label_key(f"{w.title}. {w.abstract or ''}") + " " for w in works}
    members: dict[str, list[str]] = defaultdict(list)
    labels: dict[str, str] = {}
    levels: dict[str, str] = {}
    for wid, refs in work_topics.items():
        for t in refs:
            if origin.get(t.id) == "derived":
                members[t.id].append(wid)
                labels[t.id], levels[t.id] = t.label, t.level
    grounded = {t: sum(_grounded(labels[t], texts[w]) for w in ws) for t, ws in members.items()}

    def grounding(level: str | None) -> tuple[float, float]:
        chosen = [t for t in members if level in (None, levels[t])]
        pairs = sum(len(members[t]) for t in chosen)
        return (sum(grounded[t] / len(members[t]) for t in chosen) / len(chosen) if chosen else 0.0,
                sum(grounded[t] for t in chosen) / pairs if pairs else 0.0)

    return TopicEvaluation(
        corpora=scores,
        derived_topics=len(members),
        grounding_macro=grounding(None)[0],
        grounding_micro=grounding(None)[1],
        grounding_by_level={level: grounding(level) for level in ("topic", "field")},
        seconds=0.0,
    )


def _heaviest_field(refs: list[TopicRef]) -> str:
    """The work's field: its heaviest field-level ref (a build without fields: its first topic)."""
    fields = [t for t in refs if t.level == "field"] or refs
    return max(fields, key=lambda t: t.weight).id
