"""The co-author graph new collaborators walk (`ResearcherDoc.coauthors`, `large_works`,
`SearchEngine.researcher_coauthors`): a large work's authors are stored once, on the work, yet the
graph a suggestion sees is the same as when every co-author is copied into every list. Real records,
the real model, each engine on its real store.
"""

from __future__ import annotations

import math

import pytest

from indexer import aggregates
from search import service
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


def _pairwise_friends_of_friends(engine, rid: str) -> dict[str, tuple[float, list[str]]]:
    """The definition, one (friend, shared co-author) pair at a time: each friend of a friend's
    Adamic-Adar sum and shared co-authors, strongest (fewest co-authors) first."""
    researcher = engine.get_researchers([rid])[0]
    coauthors = {r for w in engine.get_works(researcher.work_ids) for r in w.researcher_ids} - {rid}
    lists = engine.researcher_coauthors(sorted(coauthors))
    authors = {w.id: set(w.researcher_ids) for w in engine.get_works(sorted({w for c in lists.values() for w in c.large_works}))}
    shared: dict[str, set[str]] = {}
    for middle, stored in lists.items():
        friends = set(stored.joint).union(*(authors.get(w, set()) for w in stored.large_works)) - coauthors - {rid}
        for friend in friends:
            shared.setdefault(friend, set()).add(middle)
    weight = {m: 1.0 / math.log(max(2, c.count)) for m, c in lists.items()}
    return {f: (sum(weight[m] for m in ms), sorted(ms, key=lambda m: (-weight[m], m))) for f, ms in shared.items()}


@pytest.mark.parametrize("kind", ENGINES)
def test_a_large_neighbourhood_is_summed_exactly_and_reads_only_what_is_shown(kind, corpus, engine_factory, embedder, monkeypatch):
    """Most works large (LARGE_TEAM = 3), so co-authors meet their co-authors' co-authors through
    shared large works, as on a thousand-author paper: the graph signals still equal the pairwise
    definition, while a suggestion names at most VIA_SHOWN shared co-authors (the strongest) and a
    request reads the documents of the suggestions and of those co-authors only, however many
    co-authors they share (it read every shared co-author's document: thousands per profile). The
    fixture's friends of friends share at most three co-authors, so the bound is lowered to one."""
    monkeypatch.setattr(aggregates, "LARGE_TEAM", 3)
    monkeypatch.setattr(service, "VIA_SHOWN", 1)
    engine = engine_factory(kind)()
    engine.build(corpus)
    discovery = Discovery(engine, embedder)
    people = sorted(doc.id for doc in corpus.researchers())
    lists = engine.researcher_coauthors(people)
    limit = 10
    wide = sorted(people, key=lambda rid: (-len(lists[rid].joint) - len(lists[rid].large_works), rid))[:40]
    truths = {rid: _pairwise_friends_of_friends(engine, rid) for rid in wide}
    asked = sorted(wide, key=lambda rid: (-max((len(ms) for _, ms in truths[rid].values()), default=0), rid))[:4]
    widest = 0
    for rid in asked:
        truth = truths[rid]
        researcher = engine.get_researchers([rid])[0]
        vector = engine.researcher_vectors([rid])[rid]
        signals = discovery.collaborator_signals(researcher, engine.get_works(researcher.work_ids), vector, topics=False)
        friends = {f: s for f, s in signals.items() if s.common_neighbours}
        assert set(friends) <= set(truth) and len(friends) >= 0.9 * len(truth)  # less those without a vector
        for f, s in friends.items():
            assert s.adamic_adar == pytest.approx(truth[f][0], rel=1e-9)
            assert s.common_neighbours == len(truth[f][1]) and s.via == truth[f][1][:service.VIA_SHOWN]

        read: set[str] = set()
        fetch = engine.get_researchers
        monkeypatch.setattr(engine, "get_researchers", lambda ids, _fetch=fetch: read.update(ids) or _fetch(ids))
        shown = discovery.similar_researchers(rid, mode="collaborators", limit=limit)
        monkeypatch.setattr(engine, "get_researchers", fetch)
        assert shown
        for s in shown:
            assert [m.id for m in s.via] == truth.get(s.researcher.id, (0, []))[1][:service.VIA_SHOWN]
        widest = max(widest, *(len(truth.get(s.researcher.id, (0, []))[1]) for s in shown))
        assert read <= {rid} | {s.researcher.id for s in shown} | {m.id for s in shown for m in s.via}
    assert widest > service.VIA_SHOWN, "a shown suggestion should share more co-authors than it names"
