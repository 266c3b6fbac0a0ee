"""Topics for new or changed works from the last build's topic model, without clustering again.

The model is the last build's assignment (`Catalog.work_topics`): every topic's label, level and
field as the works carry them, and, for each topic with at least MIN_TOPIC_WORKS works, a centroid
(their mean vector) and a floor (the FLOOR_PERCENTILE similarity of its own works), as
`indexer.topics` computes them. A new work gets its source labels (a known topic keeps its label
and field) and, when it has fewer than MIN_SOURCE_TOPICS, the nearest centroids above their floor.
Labels, fields and clusters stay as the model has them until a full reindex clusters again (an
acronym a new work spells out is a new topic until then).
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from indexer.topics import FLOOR_PERCENTILE, MAX_DERIVED, MAX_TOPICS_PER_WORK, MIN_SOURCE_TOPICS, MIN_TOPIC_WORKS, label_key
from models.records import TopicRef, Work, topic_id


class TopicModel:
    def __init__(self, stored: dict[str, list[dict]], vectors: dict[str, np.ndarray]):
        self.known: dict[str, TopicRef] = {}
        members: dict[str, list[str]] = defaultdict(list)
        for wid in sorted(stored):
            for data in stored[wid]:
                ref = TopicRef(**data)
                self.known.setdefault(ref.id, ref)
                if ref.level == "topic" and wid in vectors:
                    members[ref.id].append(wid)
        self.keys: list[str] = []
        centroids, floors = [], []
        for tid, wids in members.items():
            if len(wids) < MIN_TOPIC_WORKS:
                continue
            rows = np.stack([vectors[w] for w in wids]).astype(np.float32)
            mean = rows.sum(axis=0)
            centroid = mean / (np.linalg.norm(mean) or 1.0)
            self.keys.append(tid)
            centroids.append(centroid)
            floors.append(np.percentile(rows @ centroid, FLOOR_PERCENTILE))
        dimension = next(iter(vectors.values())).shape[0] if vectors else 0
        self.centroids = np.array(centroids, dtype=np.float32).reshape(-1, dimension)
        self.floors = np.array(floors)

    def assign(self, work: Work, vector: np.ndarray | None) -> tuple[list[TopicRef], dict[str, str]]:
        """The work's refs, and the origin of every topic the model did not know."""
        topics: dict[str, TopicRef] = {}
        fields: dict[str, TopicRef] = {}
        origins: dict[str, str] = {}

        def field_ref(label: str) -> TopicRef | None:
            key = label_key(label)
            if not key:
                return None
            fid = topic_id(key)
            if fid not in self.known:
                origins[fid] = "source"
            return TopicRef(fid, self.known[fid].label if fid in self.known else label, 1.0, "field")

        for rank, label in enumerate(work.source_topics + work.keywords):
            key = label_key(label)
            tid = topic_id(key) if key else None
            if not tid or tid in topics or len(topics) >= MAX_TOPICS_PER_WORK:
                continue
            field = field_ref(work.topic_fields[label]) if work.topic_fields.get(label) else None
            if field:
                fields.setdefault(field.id, field)
            known = self.known.get(tid)
            if known is None:
                origins[tid] = "source"
            parent = known.parent if known else (field.id if field and field.id != tid else None)
            topics[tid] = TopicRef(tid, known.label if known else label, round(max(0.5, 1.0 - 0.1 * rank), 3), "topic", parent)
        if vector is not None and len(topics) < MIN_SOURCE_TOPICS and self.keys:
            sims = self.centroids @ np.asarray(vector, dtype=np.float32)
            close = [i for i in np.flatnonzero(sims >= self.floors) if self.keys[i] not in topics]
            if not close and not topics:  # never topic-less: the nearest one
                close = [int(np.argmax(sims))]
            close = sorted(close, key=lambda i: -sims[i])[:MAX_DERIVED]
            best = max([sims[i] for i in close] or [1.0])
            for i in close:
                known = self.known[self.keys[i]]
                topics[known.id] = TopicRef(known.id, known.label, round(float(sims[i] / best), 3), "topic", known.parent)
        if not fields:  # the field most of its topics belong to
            parents = Counter(t.parent for t in topics.values() if t.parent and t.parent in self.known)
            for fid, _ in parents.most_common(1):
                fields[fid] = TopicRef(fid, self.known[fid].label, 1.0, "field")
        refs = [f for fid, f in fields.items() if fid not in topics]
        refs += sorted(topics.values(), key=lambda t: -t.weight)
        if not refs:  # no label and no vector: its venue, as `indexer.topics` does
            label = work.venue.name if work.venue else "Uncategorised"
            tid = topic_id(label_key(label) or "uncategorised")
            if tid not in self.known:
                origins[tid] = "derived"
            refs = [TopicRef(tid, self.known[tid].label if tid in self.known else label)]
        return refs, origins
