"""The co-author graph new collaborators walk (`ResearcherDoc.coauthors`, `large_works`,
`SearchEngine.researcher_coauthors`): a large work's authors are stored once, on the work, yet the
graph a suggestion sees is the same as when every co-author is copied into every list. Real records,
the real model, each engine on its real store.
"""

from __future__ import annotations

import pytest

from indexer import aggregates
from search.service import Discovery

ENGINES = ("embedded", pytest.param("opensearch", marks=pytest.mark.opensearch))


@pytest.mark.parametrize("kind", ENGINES)
def test_large_works_are_stored_once_and_give_the_same_suggestions(kind, corpus, engine_factory, embedder, monkeypatch):
    copied = engine_factory(kind)()
    monkeypatch.setattr(aggregates, "LARGE_TEAM", 10_000)  # every co-author copied into every list
    copied.build(corpus)
    shared = engine_factory(kind)()
    monkeypatch.setattr(aggregates, "LARGE_TEAM", 3)  # most works large: their authors stored once
    shared.build(corpus)

    people = sorted(doc.id for doc in corpus.researchers())
    lists = shared.researcher_coauthors(people)
    assert sum(len(c.large_works) for c in lists.values()) > 100
    assert sum(len(c.joint) for c in lists.values()) < sum(len(c.joint) for c in copied.researcher_coauthors(people).values()) / 2
    before, after = Discovery(copied, embedder), Discovery(shared, embedder)
    asked = [rid for rid in people if lists[rid].count >= 3][::7][:25]
    assert len(asked) >= 10
    for rid in asked:
        for mode in ("similar", "collaborators"):
            assert [(s.researcher.id, s.similarity, [m.id for m in s.via]) for s in after.similar_researchers(rid, mode=mode)] == \
                [(s.researcher.id, s.similarity, [m.id for m in s.via]) for s in before.similar_researchers(rid, mode=mode)]
