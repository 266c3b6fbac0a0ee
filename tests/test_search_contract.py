"""The search contract: one suite, every engine (the `engine` fixture in conftest.py).

Real records (tests/fixtures/README.md), the real indexer and the real embedding model; assertions
are about results, never about which calls an engine received. Engine-specific storage checks for
the embedded engine are at the end.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import asdict, replace

import numpy as np
import pytest

from search.interface import (
    MAX_PAGE_SIZE,
    MAX_QUERY_CHARS,
    MAX_RESULT_WINDOW,
    BadQuery,
    Corpus,
    EngineUnavailable,
    NotFound,
    WorkFilters,
)
from search.service import Discovery
from tests.support import coauthor_list

SEED_PAPER = "Strength of Minibatch Noise in SGD"
UAI_PAPER = "paperlists-uai2021-f4ddf1773c"  # "Ziyin Liu" at UAI 2021: the seed researcher's other name order
HOSTILE = "arxiv-hostile-0000001"  # a real arXiv record whose title gained <script> markup


def titles(results):
    return [h.work.title for h in results.hits]


@pytest.fixture(scope="module")
def seed(discovery):
    """The seed researcher: the one whose works include the UAI 2021 paper and the seed SGD paper."""
    hits = discovery.search_people("Liu Ziyin", limit=10, by="name").hits
    matches = [h.researcher for h in hits if UAI_PAPER in h.researcher.work_ids]
    assert matches, [h.researcher for h in hits]
    return matches[0]


# -- ranking --------------------------------------------------------------------------------------


def test_hybrid_ranks_the_seed_paper_top_3(discovery):
    results = discovery.search_works("minibatch noise in stochastic gradient descent")
    assert results.mode == "hybrid" and results.fusion == "rrf"
    assert SEED_PAPER in titles(results)[:3]


def test_weighted_fusion_ranks_the_seed_paper_top_3(discovery):
    results = discovery.search_works("minibatch noise in stochastic gradient descent", fusion="weighted")
    assert results.fusion == "weighted"
    assert SEED_PAPER in titles(results)[:3]


def test_keyword_mode_ranks_title_words_first_and_has_only_keyword_scores(discovery):
    results = discovery.search_works("volumization weight decay", mode="keyword")
    assert titles(results)[0] == "Volumization as a Natural Generalization of Weight Decay"
    for hit in results.hits:
        assert hit.scores.keyword is not None and hit.scores.keyword_rank is not None
        assert hit.scores.vector is None and hit.scores.vector_rank is None


def test_keyword_mode_matches_other_word_forms(discovery):
    """One analysis on both engines (search/text.py): Porter stems, so a plural finds the singular."""
    results = discovery.search_works("volumizations", mode="keyword")
    assert titles(results)[:1] == ["Volumization as a Natural Generalization of Weight Decay"]


def test_author_names_are_searchable_in_works(discovery, seed):
    results = discovery.search_works("Ziyin", mode="keyword", per_page=MAX_PAGE_SIZE)
    assert SEED_PAPER in titles(results)
    assert all(hit.scores.keyword is not None for hit in results.hits)


def test_a_long_pasted_text_is_not_cut_to_its_first_words(discovery):
    """Sixty words that match nothing, then the one that matters: every term reaches the engine."""
    filler = " ".join(f"qq{i}zz" for i in range(60))
    results = discovery.search_works(f"{filler} volumization", mode="keyword")
    assert titles(results)[:1] == ["Volumization as a Natural Generalization of Weight Decay"]
    made_up = " ".join(f"zq{i}xq" for i in range(3000))[:MAX_QUERY_CHARS]  # more distinct terms than any text
    assert discovery.search_works(made_up, mode="keyword").total == 0


def test_semantic_mode_finds_a_paraphrase_without_shared_words(discovery):
    query = "training classifiers when annotations are corrupted"
    semantic = discovery.search_works(query, mode="semantic", per_page=3)
    assert titles(semantic)[0] == "Learning Not to Learn in the Presence of Noisy Labels"
    assert all(h.scores.vector is not None and h.scores.keyword is None for h in semantic.hits)
    paraphrase = discovery.search_works(
        "a penalty on the parameter volume as an alternative to L2 regularisation", mode="semantic", per_page=3
    )
    assert "Volumization as a Natural Generalization of Weight Decay" in titles(paraphrase)[:3]


def test_hits_explain_their_rank(discovery):
    results = discovery.search_works("minibatch noise in stochastic gradient descent", per_page=20)
    fused = [h.scores.fused for h in results.hits]
    assert fused == sorted(fused, reverse=True)
    top = results.hits[0].scores
    assert top.keyword is not None and top.vector is not None
    assert top.keyword_rank >= 1 and top.vector_rank >= 1
    for hit in results.hits:
        assert (hit.scores.keyword is None) == (hit.scores.keyword_rank is None)
        assert (hit.scores.vector is None) == (hit.scores.vector_rank is None)
        assert hit.scores.keyword is not None or hit.scores.vector is not None


def test_keyword_search_folds_diacritics(discovery):
    with_accent = discovery.search_works("Saarbrücken", mode="keyword")
    without = discovery.search_works("saarbrucken", mode="keyword")
    assert titles(with_accent) == titles(without)


def test_results_render_as_plain_data(discovery):
    results = discovery.search_works("phase transitions")
    data = asdict(results)
    assert data["hits"][0]["work"]["title"]
    assert set(data["hits"][0]["scores"]) == {"fused", "keyword", "vector", "keyword_rank", "vector_rank"}


# -- filters --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["hybrid", "keyword", "semantic"])
def test_year_and_type_filters_are_respected(discovery, mode):
    filters = WorkFilters(year_from=2020, year_to=2021, types=("article",))
    results = discovery.search_works("stochastic gradient descent", mode=mode, filters=filters, per_page=50)
    assert results.hits
    for hit in results.hits:
        assert 2020 <= hit.work.year <= 2021 and hit.work.type == "article"


def test_vector_filters_apply_inside_the_search(discovery):
    """A filter whose works are all outside the unfiltered top 5 still fills its page from the
    nearest works within the filter (not top-k, then filtered)."""
    text = "stochastic gradient descent"
    everything = discovery.search_works(text, mode="semantic", per_page=MAX_PAGE_SIZE).hits
    top = {h.work.venue for h in everything[:5]}
    venue = Counter(h.work.venue for h in everything[5:] if h.work.venue not in top).most_common(1)[0][0]
    results = discovery.search_works(text, mode="semantic", filters=WorkFilters(venues=(venue,)), per_page=5)
    expected = [h.work.id for h in everything if h.work.venue == venue][:5]
    assert len(expected) >= 2 and [h.work.id for h in results.hits][: len(expected)] == expected


def test_venue_topic_and_researcher_filters(discovery, seed):
    text = "stochastic gradient descent"
    by_researcher = discovery.search_works(text, filters=WorkFilters(researcher=seed.id), per_page=50)
    assert by_researcher.hits and all(seed.id in h.work.researcher_ids for h in by_researcher.hits)
    topic = seed.topics[0]
    by_topic = discovery.search_works(text, filters=WorkFilters(topics=(topic.id,)), per_page=50)
    assert by_topic.hits and all(topic.id in [t.id for t in h.work.topics] for h in by_topic.hits)
    venue = by_researcher.hits[0].work.venue
    by_venue = discovery.search_works(text, filters=WorkFilters(venues=(venue,)), per_page=50)
    assert by_venue.hits and all(h.work.venue == venue for h in by_venue.hits)


def test_filters_that_match_nothing_give_empty_results(discovery):
    results = discovery.search_works("noise", filters=WorkFilters(types=("no-such-type",)))
    assert results.total == 0 and results.hits == []


# -- facets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["hybrid", "keyword", "semantic"])
def test_facet_counts_add_up(discovery, mode):
    """Counts sum to the total; choosing a value gives exactly its count in keyword mode, and at
    least its count when vector candidates take part (they are the nearest *within* the filters)."""
    text = "noisy labels"
    results = discovery.search_works(text, mode=mode)
    assert results.total > 0
    assert sum(f.count for f in results.facets["year"]) == results.total  # every fixture work has a year
    assert sum(f.count for f in results.facets["type"]) == results.total
    assert sum(f.count for f in results.facets["venue"]) <= results.total
    for field, make in [
        ("year", lambda v: WorkFilters(year_from=int(v), year_to=int(v))),
        ("type", lambda v: WorkFilters(types=(v,))),
        ("venue", lambda v: WorkFilters(venues=(v,))),
        ("topic", lambda v: WorkFilters(topics=(v,))),
    ]:
        for facet in results.facets[field][:3]:
            narrowed = discovery.search_works(text, mode=mode, filters=make(facet.value))
            if mode == "keyword":
                assert narrowed.total == facet.count, (field, facet)
            else:
                assert narrowed.total >= facet.count, (field, facet)


def test_facets_are_ordered_and_labelled(discovery):
    facets = discovery.search_works("learning").facets
    years = [int(f.value) for f in facets["year"]]
    assert years == sorted(years, reverse=True)
    for field in ("venue", "type", "topic"):
        counts = [f.count for f in facets[field]]
        assert counts == sorted(counts, reverse=True) and all(f.label for f in facets[field])


# -- pagination -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["hybrid", "keyword", "semantic"])
def test_pages_are_consecutive_slices_of_one_ranking(discovery, mode):
    text = "neural networks"
    whole = [h.work.id for h in discovery.search_works(text, mode=mode, per_page=15).hits]
    pages = [h.work.id for p in (1, 2, 3) for h in discovery.search_works(text, mode=mode, page=p, per_page=5).hits]
    assert len(whole) == 15 and pages == whole


def test_page_past_the_end_is_empty_not_an_error(discovery):
    results = discovery.search_works("volumization", mode="keyword", page=50, per_page=20)
    assert results.hits == [] and results.page == 50


def test_result_window_is_enforced(discovery):
    last = MAX_RESULT_WINDOW // MAX_PAGE_SIZE
    discovery.search_works("learning", page=last, per_page=MAX_PAGE_SIZE)
    with pytest.raises(BadQuery):
        discovery.search_works("learning", page=last + 1, per_page=MAX_PAGE_SIZE)


def test_empty_query_is_the_browse_listing(discovery, corpus):
    results = discovery.search_works("   ", per_page=20)
    assert results.mode == "browse" and results.total == corpus.counts["works"]
    years = [h.work.year for h in results.hits]
    assert years == sorted(years, reverse=True)
    narrowed = discovery.search_works("", filters=WorkFilters(types=("preprint",)))
    assert narrowed.total == sum(f.count for f in results.facets["type"] if f.value == "preprint")
    assert all(h.work.type == "preprint" for h in narrowed.hits)


# -- highlights -----------------------------------------------------------------------------------


def test_highlights_mark_matches_and_escape_markup(discovery):
    results = discovery.search_works("script gas clustering", mode="keyword")
    hit = next(h for h in results.hits if h.work.id == HOSTILE)
    assert "<script>" in hit.work.title  # the record itself is untouched
    title = hit.highlights["title"]
    assert "&lt;" in title and "<script" not in title and "<b>" not in title
    assert "<mark>" in title and "&amp;" in title


def test_every_highlight_is_safe_html(discovery):
    for query in ["script alert bold", "ARBERT MARBERT", "photoproduction pi0 omega protons", "noise"]:
        for hit in discovery.search_works(query, per_page=20).hits:
            for snippet in hit.highlights.values():
                assert "<" not in re.sub(r"</?mark>", "", snippet), snippet
            assert "title" in hit.highlights


# -- people ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["Ziyin Liu", "Liu Ziyin", "LIU, Ziyin", "ziyin liú", "Zyin Liu", "Liu Ziyn"])
def test_people_by_name_variant_order_diacritics_typo(discovery, seed, query):
    results = discovery.search_people(query)
    assert results.by == "name"
    assert results.hits[0].researcher.id == seed.id
    assert results.hits[0].matched_by == "name"


@pytest.mark.parametrize("query", ["Ivan Vulic", "vulić ivan", "Barnabas Poczos", "Póczos Barnabás"])
def test_people_by_name_folds_diacritics(discovery, query):
    results = discovery.search_people(query)
    folded = {"Ivan Vulić", "Barnabás Póczos"}
    assert results.hits and results.hits[0].researcher.name in folded


def test_people_by_surname_alone(discovery):
    results = discovery.search_people("Salakhutdinov")
    assert results.by == "name" and results.hits[0].researcher.name == "Ruslan Salakhutdinov"


def test_people_by_exact_name_keys_before_fuzzy_candidates(engine, corpus, seed):
    """A name typed right (any order, initials written as initials, middle names left out) is found
    by exact keys alone: every candidate is an exact match, no fuzzy neighbour is looked up."""
    for query in ["Liu Ziyin", "ziyin LIU", "Z. Liu", "Liu, Z."]:
        found = engine.name_researchers(query, 30)
        assert (seed.id, 1.0) in found, query
        assert {score for _, score in found} == {1.0}, query
    middle = next(r for r in corpus.researchers() if len(r.name.split()) == 3 and "." not in r.name)
    first_last = f"{middle.name.split()[0]} {middle.name.split()[-1]}"
    assert (middle.id, 1.0) in engine.name_researchers(first_last, 30)
    typo = engine.name_researchers("Liu Ziyn", 30)  # no key knows it: fuzzy candidates, ranked by similarity
    assert seed.id in dict(typo) and max(score for _, score in typo) < 1.0


def _researcher_with(corpus, kind):
    return next(r for r in corpus.researchers() if kind in r.identifiers)


def test_people_by_pasted_orcid_in_any_form(discovery, corpus):
    person = _researcher_with(corpus, "orcid")
    bare = re.search(r"\d{4}-\d{4}-\d{4}-\d{3}[\dX]", person.identifiers["orcid"]).group(0)
    for pasted in [bare, f"https://orcid.org/{bare}", f" orcid.org/{bare.lower()} ", bare.replace("-", "")]:
        results = discovery.search_people(pasted)
        assert results.by == "identifier", pasted
        assert [h.researcher.id for h in results.hits] == [person.id]
        assert results.hits[0].matched_by == "identifier"
    assert discovery.find_researcher(f"https://orcid.org/{bare}").id == person.id


def test_unknown_orcid_finds_nobody(discovery):
    results = discovery.search_people("0000-0001-2345-6789")
    assert results.by == "identifier" and results.hits == []


def test_people_by_researcher_id(discovery, seed):
    assert discovery.search_people(seed.id).hits[0].researcher.id == seed.id


def test_people_by_expertise_returns_the_matching_works(discovery):
    results = discovery.search_people("learning with noisy labels")
    assert results.by == "expertise" and results.hits
    scores = [h.score for h in results.hits]
    assert scores == sorted(scores, reverse=True) and scores[0] == 1.0
    for hit in results.hits:
        assert hit.matched_by == "expertise" and hit.works
        assert all(hit.researcher.id in w.researcher_ids for w in hit.works)
    assert any("Noisy Labels" in w.title for w in results.hits[0].works)


def test_people_modes_can_be_forced(discovery, seed):
    assert discovery.search_people("Liu Ziyin", by="expertise").by == "expertise"
    forced = discovery.search_people("stochastic gradient descent", by="name")
    assert forced.by == "name" and all(h.matched_by == "name" for h in forced.hits)
    with pytest.raises(BadQuery):
        discovery.search_people("Liu Ziyin", by="telepathy")


def test_find_researcher(discovery, seed):
    assert discovery.find_researcher(seed.id).id == seed.id
    assert discovery.find_researcher("Ziyin Liu").id == seed.id
    with pytest.raises(NotFound):
        discovery.find_researcher("Qwxz Vbnmkj")
    with pytest.raises(BadQuery):
        discovery.find_researcher("  ")


# -- profiles and similar researchers -------------------------------------------------------------


def test_researcher_profile(discovery, seed):
    profile = discovery.researcher_profile(seed.id)
    assert {w.id for w in profile.works} == set(seed.work_ids)
    years = [w.year for w in profile.works]
    assert years == sorted(years, reverse=True)
    coauthors = {rid for w in profile.works for rid in w.researcher_ids} - {seed.id}
    assert {c.id for c in profile.collaborators} == coauthors
    joint = [c.joint_works for c in profile.collaborators]
    assert joint == sorted(joint, reverse=True) and joint[0] >= 2
    assert profile.topics == seed.topics
    with pytest.raises(NotFound):
        discovery.researcher_profile("r-0000000000")


@pytest.mark.parametrize("mode", ["similar", "collaborators"])
def test_similar_researchers_never_self_and_explained(discovery, seed, mode):
    suggestions = discovery.similar_researchers(seed.id, mode=mode, limit=10)
    assert len(suggestions) == 10
    assert seed.id not in {s.researcher.id for s in suggestions}
    similarities = [s.similarity for s in suggestions]
    if mode == "similar":  # new collaborators are ordered by the blend, similarity is one of its signals
        assert similarities == sorted(similarities, reverse=True)
    mine = {t.label for t in seed.topics}
    for s in suggestions:
        assert s.paper_pairs, s.researcher.name
        for pair in s.paper_pairs:
            assert pair.theirs.id in s.researcher.work_ids and pair.yours.id in seed.work_ids
            assert -1.0 <= pair.similarity <= 1.0
        pair_sims = [p.similarity for p in s.paper_pairs]
        assert pair_sims == sorted(pair_sims, reverse=True)
        assert set(s.shared_topics) <= mine & {t.label for t in s.researcher.topics}
    assert any(s.shared_topics for s in suggestions)


def test_suggestions_are_never_coauthors(discovery, seed):
    """Co-authors are the profile's collaborators; similar researchers and new collaborators are others."""
    works = discovery.researcher_profile(seed.id).works
    coauthors = {rid for w in works for rid in w.researcher_ids} - {seed.id}
    vector = discovery.engine.researcher_vectors([seed.id])[seed.id]
    nearest = {rid for rid, _ in discovery.engine.vector_researchers(vector, 30)}
    assert nearest & coauthors, "the fixture should make some co-author similar, or this test proves nothing"
    for mode in ("similar", "collaborators"):
        found = {s.researcher.id for s in discovery.similar_researchers(seed.id, mode=mode, limit=30)}
        assert found and not found & coauthors and seed.id not in found


def test_new_collaborators_blend_the_coauthor_graph_and_name_the_shared_coauthor(discovery, seed):
    """Friends of friends come in through the graph, each naming the co-author both share."""
    works = discovery.researcher_profile(seed.id).works
    coauthors = {rid for w in works for rid in w.researcher_ids} - {seed.id}
    suggestions = discovery.similar_researchers(seed.id, mode="collaborators", limit=10)
    through = [s for s in suggestions if s.via]
    assert through
    for s in through:
        theirs = {rid for w in discovery.researcher_profile(s.researcher.id).works for rid in w.researcher_ids}
        assert all(m.id in coauthors and m.id in theirs for m in s.via)
    signals = discovery.collaborator_signals(seed, works, discovery.engine.researcher_vectors([seed.id])[seed.id])
    assert {s.researcher.id for s in through} <= {rid for rid, found in signals.items() if found.adamic_adar > 0}


def test_new_collaborators_put_strong_graph_evidence_above_content_alone(discovery, seed):
    """The product's order is `blend_collaborators` with COLLABORATOR_BLEND over its signals (what
    `discovery eval collaborators` scores); a friend of a friend ranks above a stranger who writes as
    close to you, or up to twice as close."""
    from search.service import COLLABORATOR_BLEND, blend_collaborators

    works = discovery.researcher_profile(seed.id).works
    signals = discovery.collaborator_signals(seed, works, discovery.engine.researcher_vectors([seed.id])[seed.id])
    ranked = blend_collaborators(signals, COLLABORATOR_BLEND)
    shown = [s.researcher.id for s in discovery.similar_researchers(seed.id, mode="collaborators", limit=30)]
    assert shown == ranked[:30]
    rank = {rid: n for n, rid in enumerate(ranked)}
    friends = [rid for rid in ranked if signals[rid].adamic_adar > 0]
    strangers = [rid for rid in ranked if signals[rid].adamic_adar == 0]
    assert friends and strangers, "the fixture should give the seed both kinds of candidates"
    for friend in friends:
        for stranger in strangers:
            if signals[friend].content >= signals[stranger].content > 0:
                assert rank[friend] < rank[stranger]
    # a shared co-author outweighs a twofold gap in content: every friend of a friend at least half as
    # close as the closest stranger ranks above that stranger (a sum of max-scaled signals did not)
    closest = max(strangers, key=lambda rid: signals[rid].content)
    near_enough = [f for f in friends if signals[f].content >= signals[closest].content / 2]
    assert near_enough
    assert all(rank[f] < rank[closest] for f in near_enough)


def test_profile_suggestions_search_the_researcher_vectors_once(discovery, seed, monkeypatch):
    """A profile shows both suggestion lists from one nearest-researcher search, equal to asking
    for each list on its own (which searches twice), less the repeats."""
    searches = []
    search = discovery.engine.vector_researchers
    monkeypatch.setattr(discovery.engine, "vector_researchers", lambda *a, **k: searches.append(a) or search(*a, **k))
    similar, collaborators = discovery.profile_suggestions(seed.id, 6)
    assert len(searches) == 1
    assert similar and [(s.researcher.id, s.similarity) for s in similar] == [
        (s.researcher.id, s.similarity) for s in discovery.similar_researchers(seed.id, mode="similar", limit=6)]
    shown = {s.researcher.id for s in similar}  # not repeated among new collaborators unless the graph brought them
    assert [s.researcher.id for s in collaborators] == [
        s.researcher.id for s in discovery.similar_researchers(seed.id, mode="collaborators", limit=12)
        if s.via or s.researcher.id not in shown][:6]


def test_suggestions_read_documents_only_for_what_they_show(discovery, seed, monkeypatch):
    """A request walks the co-author graph through stored co-author lists (the researcher's
    co-authors' lists, never their works) and reads the documents of the suggestions it shows and
    the papers of their pairs, never those of every candidate: reading each candidate's document and
    every co-author's works took seconds per profile at 20k works."""
    limit = 2
    coauthors = {rid for w in discovery.engine.get_works(seed.work_ids) for rid in w.researcher_ids} - {seed.id}
    large_works = {w for c in discovery.engine.researcher_coauthors(sorted(coauthors)).values() for w in c.large_works}
    vector = discovery.engine.researcher_vectors([seed.id])[seed.id]
    candidates = discovery.collaborator_signals(seed, discovery.engine.get_works(seed.work_ids), vector)
    read = {"get_researchers": set(), "get_works": set(), "researcher_coauthors": set()}
    for name, ids in read.items():
        fetch = getattr(discovery.engine, name)
        monkeypatch.setattr(discovery.engine, name, lambda asked, _fetch=fetch, _ids=ids: _ids.update(asked) or _fetch(asked))

    def shown_by(*lists):
        suggestions = [s for found in lists for s in found]
        assert len(suggestions) == limit * len(lists)
        return ({s.researcher.id for s in suggestions}, {p.theirs.id for s in suggestions for p in s.paper_pairs},
                suggestions)

    for ask in (lambda: [discovery.similar_researchers(seed.id, mode="similar", limit=limit)],
                lambda: [discovery.similar_researchers(seed.id, mode="collaborators", limit=limit)],
                lambda: discovery.profile_suggestions(seed.id, limit)):
        for ids in read.values():
            ids.clear()
        people, papers, suggestions = shown_by(*ask())
        assert read["get_researchers"] - {seed.id} - coauthors <= people
        assert read["get_works"] - set(seed.work_ids) - large_works <= papers
        assert read["researcher_coauthors"] <= coauthors
    assert len(candidates) > 10 * limit, "the fixture should offer many more candidates than are shown"
    assert any(len(s.researcher.work_ids) > len(s.paper_pairs) for s in suggestions), \
        "a suggestion with more works than pairs shows that unpaired works are not read"


def test_researcher_cosines_score_the_listed_researchers_as_the_nearest_search_does(discovery, seed):
    """New collaborators score friends of friends in one call; the cosines are those of the stored
    vectors, the same as the nearest-researcher search gives, and unknown ids are left out."""
    engine = discovery.engine
    vector = engine.researcher_vectors([seed.id])[seed.id]
    nearest = dict(engine.vector_researchers(vector, 20))
    stored = engine.researcher_vectors(list(nearest))
    found = engine.researcher_cosines(vector, [*nearest, "r-0000000000"])
    assert set(found) == set(nearest) == set(stored)
    for rid, score in found.items():
        assert score == pytest.approx(nearest[rid], abs=1e-5)
        assert score == pytest.approx(float(np.dot(stored[rid], vector)), abs=1e-5)
    assert engine.researcher_cosines(vector, []) == {}
    with pytest.raises(BadQuery):
        engine.researcher_cosines(vector[:10], list(nearest))


def test_researchers_store_their_coauthors_with_joint_works(discovery, seed):
    """The co-author lists suggestions walk equal the graph of the indexed works, for the seed and
    each co-author (whose lists reach the seed's friends of friends)."""
    works = discovery.engine.get_works(seed.work_ids)
    coauthors = sorted({rid for w in works for rid in w.researcher_ids} - {seed.id})
    stored = discovery.engine.researcher_coauthors([seed.id, *coauthors, "r-0000000000"])
    assert set(stored) == {seed.id, *coauthors}
    for doc in discovery.engine.get_researchers([seed.id, *coauthors]):
        assert stored[doc.id] == coauthor_list(doc.id, discovery.engine.get_works(doc.work_ids))
        assert list(stored[doc.id].joint.values()) == sorted(stored[doc.id].joint.values(), reverse=True)
        assert doc.coauthors == {}  # documents come without the lists (the seed's has more than its close collaborators)
    assert any(count > 1 for count in stored[seed.id].joint.values()), "the seed should have a repeated co-author"



def test_similar_researchers_filters(discovery, seed):
    recent = discovery.similar_researchers(seed.id, active_since=2023, limit=10)
    assert recent and all(s.researcher.last_year >= 2023 for s in recent)
    at = discovery.similar_researchers(seed.id, institution="carnegie mellon", limit=10)
    assert at and all(any("Carnegie Mellon" in i.name for i in s.researcher.institutions) for s in at)
    new = discovery.similar_researchers(seed.id, mode="collaborators", active_since=2023, limit=10)
    assert new and all(s.researcher.last_year >= 2023 for s in new)
    with pytest.raises(BadQuery):
        discovery.similar_researchers(seed.id, mode="enemies")
    with pytest.raises(NotFound):
        discovery.similar_researchers("r-0000000000")


def test_researcher_graph(discovery, seed):
    graph = discovery.researcher_graph(seed.id)
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert nodes[seed.id]["type"] == "researcher"
    assert {n["type"] for n in graph["nodes"]} <= {"researcher", "work", "topic", "institution"}
    assert set(seed.work_ids) <= set(nodes)
    assert any(n["type"] == "institution" for n in graph["nodes"])
    assert any(n["type"] == "topic" for n in graph["nodes"])
    for edge in graph["edges"]:
        assert edge["source"] in nodes and edge["target"] in nodes and edge["kind"]


# -- topics and works -----------------------------------------------------------------------------


def test_search_topics(discovery):
    hits = discovery.search_topics("noisy labels")
    assert hits and "nois" in hits[0].topic.label.lower()
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_topic_page(discovery, seed):
    topic_id = seed.topics[0].id
    page = discovery.topic_page(topic_id)
    assert page.topic.id == topic_id
    assert page.description and page.description != page.topic.label
    assert sum(page.works_per_year.values()) == page.topic.works_count
    recent = [w.year for w in page.recent_works]
    assert recent == sorted(recent, reverse=True)
    cited = [w.cited_by_count for w in page.cited_works]
    assert cited == sorted(cited, reverse=True)
    for work in page.recent_works + page.cited_works:
        assert topic_id in [t.id for t in work.topics]
    counts = [t.works for t in page.top_researchers]
    assert counts and counts == sorted(counts, reverse=True)
    assert page.related_topics and topic_id not in [t.topic.id for t in page.related_topics]
    with pytest.raises(NotFound):
        discovery.topic_page("t-no-such-topic")


def test_work_page(discovery):
    work_id = discovery.search_works(SEED_PAPER, mode="keyword").hits[0].work.id
    page = discovery.work_page(work_id)
    assert page.work.title == SEED_PAPER
    assert page.similar_works and work_id not in [s.work.id for s in page.similar_works]
    sims = [s.similarity for s in page.similar_works]
    assert sims == sorted(sims, reverse=True)
    with pytest.raises(NotFound):
        discovery.work_page("W0")


# -- hostile input --------------------------------------------------------------------------------

NASTY = [
    '"', '""', "'", "cat's", 'cat"', '"unbalanced', "(", ")", "((a)", "a AND", "AND", "OR", "NOT", "NEAR",
    "NEAR(a b)", "a OR b NOT c", "title:noise", ":", "-", "--", "-noise", "*", "noise*", "^", "{a}", "[", "\\",
    "%", "_", "'; DROP TABLE works; --", "🙂", "🧠 neural 🧠", "é", "\u0301", "ﬁne", "Ω≈ç√∫", "日本語の論文",
    "\u200b", "\x00", "\x02bad\x03", "<script>alert(1)</script>", "", " ", "\t\n", "a" * MAX_QUERY_CHARS,
    "noise " * 1600,
]


def answered_or_rejected(call):
    """The only acceptable outcomes for user input: an answer, or BadQuery."""
    try:
        return call()
    except BadQuery:
        return None


@pytest.mark.parametrize("query", NASTY, ids=lambda q: repr(q[:12]))
def test_nasty_queries_get_results_or_bad_query(discovery, query):
    for mode in ("hybrid", "keyword", "semantic"):
        results = answered_or_rejected(lambda: discovery.search_works(query, mode=mode))
        if results is not None:
            assert results.total >= len(results.hits)
            for hit in results.hits:
                assert "<" not in re.sub(r"</?mark>", "", hit.highlights["title"])
    answered_or_rejected(lambda: discovery.search_works(query, filters=WorkFilters(year_from=2000), fusion="weighted"))
    answered_or_rejected(lambda: discovery.search_people(query))
    answered_or_rejected(lambda: discovery.search_people(query, by="name"))
    answered_or_rejected(lambda: discovery.search_topics(query))
    try:
        discovery.find_researcher(query)
    except (BadQuery, NotFound):
        pass


def test_query_length_limit(discovery):
    discovery.search_works("a" * MAX_QUERY_CHARS)
    with pytest.raises(BadQuery):
        discovery.search_works("a" * (MAX_QUERY_CHARS + 1))
    with pytest.raises(BadQuery):
        discovery.search_people("a" * (MAX_QUERY_CHARS + 1))


def test_empty_text_is_rejected_where_text_is_needed(discovery):
    for call in (discovery.search_people, discovery.search_topics, discovery.find_researcher):
        with pytest.raises(BadQuery):
            call("  ")


BAD_PARAMETERS = [
    {"page": 0}, {"page": -1}, {"page": "2"}, {"page": 1.5}, {"page": None}, {"page": True}, {"page": 10**12},
    {"per_page": 0}, {"per_page": MAX_PAGE_SIZE + 1}, {"per_page": -5}, {"per_page": "10"},
    {"mode": "bogus"}, {"mode": None}, {"fusion": "borda"},
    {"filters": WorkFilters(year_from=2022, year_to=2020)}, {"filters": WorkFilters(year_from=99999)},
    {"filters": WorkFilters(year_from="2020")}, {"filters": WorkFilters(year_to=-1)},
    {"filters": WorkFilters(types="article")}, {"filters": WorkFilters(types=(1, 2))},
    {"filters": WorkFilters(researcher=42)}, {"filters": "year=2020"},
]


@pytest.mark.parametrize("params", BAD_PARAMETERS, ids=repr)
def test_bad_parameters_are_bad_queries(discovery, params):
    try:
        discovery.search_works("noise", **params)
    except BadQuery:
        return
    # a lenient reading is acceptable only if it is a correct answer
    assert params == {"filters": WorkFilters(types="article")}


@pytest.mark.parametrize("call", [
    lambda d: d.search_people("noise", limit=0),
    lambda d: d.search_people("noise", limit="3"),
    lambda d: d.search_topics("noise", limit=MAX_PAGE_SIZE + 1),
    lambda d: d.similar_researchers("r-0000000000", limit=-1),
    lambda d: d.similar_researchers("r-0000000000", active_since="2020"),
])
def test_bad_limits_are_bad_queries(discovery, call):
    with pytest.raises(BadQuery):
        call(discovery)


# -- one search box: honest counts, related works, "did you mean", people and topic panels ---------

NONSENSE = "xyzzyqwertyplugh"


@pytest.mark.parametrize("mode", ["hybrid", "keyword", "semantic"])
def test_nonsense_matches_no_works(discovery, mode):
    results = discovery.search_works(NONSENSE, mode=mode)
    assert (results.total, results.hits, results.related) == (0, [], [])
    assert results.facets["year"] == []


def test_hybrid_counts_and_lists_only_works_with_the_words(discovery):
    text = "minibatch noise"
    hybrid = discovery.search_works(text, per_page=100)
    keyword = discovery.search_works(text, mode="keyword", per_page=100)
    assert 0 < hybrid.total == keyword.total <= 100
    assert {h.work.id for h in hybrid.hits} == {h.work.id for h in keyword.hits}
    assert sum(f.count for f in hybrid.facets["type"]) == hybrid.total
    assert titles(hybrid)[0] == SEED_PAPER  # the vector side still orders them


def test_a_word_only_in_a_works_topic_labels_does_not_match_it(discovery, corpus):
    """Topic labels come from a work's neighbours, not its own words: a query word found only there
    neither makes the work a keyword hit nor counts it in `total` (README, Keyword ranking)."""
    from search.text import STOPWORDS, analyze, stem, tokens

    works = list(corpus.works())
    own = {
        w.id: set(analyze(" ".join([w.title or "", w.abstract or "", *(a.name for a in w.authors), w.venue or "", *w.keywords])))
        for w in works
    }
    topic_only: dict[str, set[str]] = {}
    for w in works:
        for word in {t for topic in w.topics for t in tokens(topic.label) if t not in STOPWORDS}:
            if stem(word) not in own[w.id]:
                topic_only.setdefault(word, set()).add(w.id)
    holders = {word: {w for w, terms in own.items() if stem(word) in terms} for word in topic_only}
    word = max((w for w in topic_only if 0 < len(holders[w]) <= MAX_PAGE_SIZE), key=lambda w: (len(topic_only[w]), w))
    results = discovery.search_works(word, mode="keyword", per_page=MAX_PAGE_SIZE)
    assert results.total == len(holders[word])
    assert {h.work.id for h in results.hits} == holders[word] and not holders[word] & topic_only[word]


def test_semantic_only_neighbours_are_related_not_hits(discovery):
    """Works near in meaning that lack the words are related (above the floor, page 1), not hits."""
    from search.service import SIMILARITY_FLOOR, SIMILARITY_RATIO

    query = "shrinking coefficients toward zero during optimisation"
    results = discovery.search_works(query)
    nearest = discovery.search_works(query, mode="semantic", per_page=MAX_PAGE_SIZE).hits
    assert results.related and nearest
    floor = max(SIMILARITY_FLOOR, SIMILARITY_RATIO * nearest[0].scores.vector)
    assert all(h.scores.keyword_rank is None and h.scores.vector >= floor for h in results.related)
    assert {h.work.id for h in results.related} <= {h.work.id for h in nearest}
    assert not {h.work.id for h in results.related} & {h.work.id for h in results.hits}
    assert all(h.scores.keyword_rank is not None for h in results.hits)
    assert discovery.search_works(query, page=2).related == []


def test_work_ranking_is_the_whole_ranking_the_page_cuts(discovery):
    """What `discovery eval` scores: each mode's ranking before the floor and the hits/related split;
    the page's hits are that ranking with the cut works left out, in the same order."""
    query = "shrinking coefficients toward zero during optimisation"
    for mode in ("semantic", "hybrid"):
        ranking = [doc for doc, _ in discovery.work_ranking(query, mode)]
        page = discovery.search_works(query, mode=mode, per_page=MAX_PAGE_SIZE)
        shown = [h.work.id for h in page.hits]
        assert len(ranking) > len(shown) and set(shown) <= set(ranking)
        assert [doc for doc in ranking if doc in set(shown)] == shown
        assert {h.work.id for h in page.related} <= set(ranking)
    with pytest.raises(BadQuery):
        discovery.work_ranking("x" * (MAX_QUERY_CHARS + 1))


def test_did_you_mean_comes_from_the_index_vocabulary(discovery):
    misspelt = discovery.search_works("stochstic gradeint desent")
    assert misspelt.suggestion == "stochastic gradient descent"
    assert discovery.search_works(misspelt.suggestion).total > 0
    assert discovery.search_works("stochastic gradient descent").suggestion is None
    assert discovery.search_works(NONSENSE).suggestion is None


def test_search_panels_name_researchers_and_topics(discovery, seed):
    by_name = discovery.search_panels("Liu Ziyin")
    assert seed.id in [h.researcher.id for h in by_name.people]
    assert all(h.matched_by == "name" for h in by_name.people)
    by_words = discovery.search_panels("noisy labels")
    assert by_words.people == [] and any("nois" in t.topic.label.lower() for t in by_words.topics)
    nothing = discovery.search_panels(NONSENSE)
    assert (nothing.people, nothing.topics) == ([], [])


def test_expertise_scores_are_absolute_and_explained(discovery, seed, corpus):
    from search.service import Curation

    paper = next(w for w in corpus.works() if w.title == SEED_PAPER)
    text = f"{paper.title}. {paper.abstract or ''}"
    ranked = discovery.expertise(text, limit=10)
    assert seed.id in [e.researcher.id for e in ranked.hits]
    fits = [e.fit for e in ranked.hits]
    assert fits == sorted(fits, reverse=True) and fits[0] > 0.5
    mine = next(e for e in ranked.hits if e.researcher.id == seed.id)
    assert mine.works[0].work.title == SEED_PAPER
    by_title = discovery.expertise(paper.title, researcher_ids=[seed.id]).hits[0]
    indexed = np.asarray(discovery.engine.researcher_vectors([seed.id])[seed.id], dtype=np.float32)
    assert by_title.fit == pytest.approx(float(np.asarray(discovery.embed(paper.title), dtype=np.float32) @ indexed), abs=1e-3)
    others = [e.researcher.id for e in ranked.hits if e.researcher.id != seed.id][:3]
    given = discovery.expertise(text, researcher_ids=[*others, seed.id])
    open_fits = {e.researcher.id: e.fit for e in ranked.hits}
    assert {e.researcher.id for e in given.hits} == {*others, seed.id}
    for e in given.hits:  # a fit does not depend on who else is scored
        assert e.fit == pytest.approx(open_fits[e.researcher.id], abs=1e-3)
    long = discovery.expertise(" ".join([text] * 3), researcher_ids=[seed.id])
    assert long.chunks > 1 and long.hits[0].fit > 0.5  # the whole text is read, not its first sentence
    words = text.split()[:90]
    whole = discovery.expertise(" ".join(words), researcher_ids=[seed.id]).hits[0].fit
    stray = discovery.expertise(" ".join([*words, "Ocean."]), researcher_ids=[seed.id]).hits[0].fit
    assert len(text.split()) > 90 and stray == pytest.approx(whole, abs=0.05)  # read once: a last word is not half the text

    excluded = discovery.expertise(text, researcher_ids=[seed.id], curation={seed.id: Curation(excluded=frozenset({paper.id}))})
    assert paper.id not in [m.work.id for m in excluded.hits[0].works] and excluded.hits[0].fit < mine.fit
    second = mine.works[1].work.id
    pinned = discovery.expertise(text, researcher_ids=[seed.id], curation={seed.id: Curation(pinned=frozenset({second}))})
    assert next(m for m in pinned.hits[0].works if m.work.id == second).weight > mine.works[1].weight
    for bad in ({"text": ""}, {"text": "x", "limit": 0}, {"text": "x", "researcher_ids": []}):
        with pytest.raises(BadQuery):
            discovery.expertise(**bad)
    with pytest.raises(NotFound):
        discovery.expertise(text, researcher_ids=["r-0000000000"])


def copies(corpus: Corpus, count: int) -> Corpus:
    """The corpus `count` times over (copies get new ids, same text and vectors): a many-hit index."""
    docs = list(corpus.works())
    many = [replace(d, id=f"{d.id}~{n}") if n else d for n in range(count) for d in docs]
    return replace(corpus, works=lambda: iter(many), counts={**corpus.counts, "works": len(many)})


def test_every_page_of_a_thousand_hit_query_is_a_slice_of_one_ranking(new_engine, corpus, embedder):
    """Walk every page up to the result window: no hit repeats, none is lost, `total` never moves."""
    engine = new_engine()
    engine.build(copies(corpus, 6))
    service = Discovery(engine, embedder)
    text = "the learning"
    matching = {i for i, _ in engine.keyword_works(text, WorkFilters(), MAX_RESULT_WINDOW)}
    for mode in ("hybrid", "keyword"):
        first = service.search_works(text, mode=mode, per_page=MAX_PAGE_SIZE)
        assert first.total > MAX_RESULT_WINDOW
        seen = []
        for page in range(1, MAX_RESULT_WINDOW // MAX_PAGE_SIZE + 1):
            results = service.search_works(text, mode=mode, page=page, per_page=MAX_PAGE_SIZE)
            assert results.total == first.total
            seen += [h.work.id for h in results.hits]
        assert len(seen) == len(set(seen)) == MAX_RESULT_WINDOW
        assert set(seen) == matching


# -- index versions -------------------------------------------------------------------------------


def small(corpus: Corpus, works: int = 60) -> Corpus:
    """A quick-to-build slice of the corpus (the seed works included) for version tests."""
    docs = sorted(corpus.works(), key=lambda w: (not w.id.startswith("seed-"), w.id))[:works]
    return replace(corpus, works=lambda: iter(docs), counts={**corpus.counts, "works": len(docs)})


def failing(corpus: Corpus, after: int = 25) -> Corpus:
    def works():
        for n, doc in enumerate(corpus.works()):
            if n == after:
                raise RuntimeError("source went away mid-build")
            yield doc

    return replace(corpus, works=works)


def test_no_index_yet(new_engine, embedder):
    engine = new_engine()
    assert engine.info() is None
    with pytest.raises(EngineUnavailable):
        Discovery(engine, embedder).search_works("noise")
    with pytest.raises(NotFound):
        engine.rollback()


def test_versions_build_switch_and_roll_back(new_engine, corpus, embedder):
    engine = new_engine()
    first = engine.build(small(corpus, 40))
    second = engine.build(small(corpus, 80))
    assert second.version == first.version + 1
    assert engine.info().version == second.version and second.counts["works"] == 80
    assert second.model == corpus.model
    rolled = engine.rollback()
    assert rolled.version == first.version and engine.info().counts["works"] == 40
    assert Discovery(engine, embedder).search_works(SEED_PAPER, mode="keyword").hits
    third = engine.build(small(corpus, 50))
    assert third.version == second.version + 1 and engine.info().counts["works"] == 50


def test_failed_build_leaves_the_live_version_serving(new_engine, corpus, embedder):
    engine = new_engine()
    live = engine.build(small(corpus))
    with pytest.raises(RuntimeError, match="mid-build"):
        engine.build(failing(corpus))
    assert engine.info().version == live.version
    assert SEED_PAPER in titles(Discovery(engine, embedder).search_works(SEED_PAPER, mode="keyword"))
    after = engine.build(small(corpus, 30))
    assert after.version > live.version and engine.info().counts["works"] == 30


def test_a_running_reader_picks_up_a_new_version(new_engine, corpus):
    builder, reader = new_engine(), new_engine()
    builder.build(small(corpus, 30))
    assert reader.info().counts["works"] == 30
    builder.build(small(corpus, 70))
    assert reader.info().counts["works"] == 70
    assert len(reader.get_works([w.id for w in small(corpus, 70).works()])) == 70


def test_readers_in_threads_during_a_switch_see_whole_versions(new_engine, corpus):
    engine = new_engine()
    engine.build(small(corpus, 30))
    errors, stop = [], threading.Event()

    def read():
        while not stop.is_set():
            try:
                found = engine.keyword_works("stochastic gradient noise", WorkFilters(), 50)
                docs = engine.get_works([i for i, _ in found])
                assert len(docs) <= len(found)
            except Exception as exc:  # noqa: BLE001 - the assertion below reports it
                errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for n in (60, 40, 80):
            engine.build(small(corpus, n))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert engine.info().counts["works"] == 80


# -- embedded engine storage (engine-specific) ----------------------------------------------------


@pytest.fixture
def embedded_dir(tmp_path):
    from search.embedded import EmbeddedEngine

    engines = []

    def open_engine():
        engines.append(EmbeddedEngine(tmp_path))
        return engines[-1]

    yield tmp_path, open_engine
    for engine in engines:
        engine.close()


def test_embedded_keeps_live_and_previous_versions_only(embedded_dir, corpus):
    path, open_engine = embedded_dir
    engine = open_engine()
    for n in (20, 30, 40):
        engine.build(small(corpus, n))
    assert (path / "CURRENT").read_text().strip() == "v3"
    assert sorted(p.name for p in path.glob("v*")) == ["v2", "v3"]
    assert all((path / v / "manifest.json").exists() for v in ("v2", "v3"))


def test_embedded_cleans_half_built_versions_and_failed_builds(embedded_dir, corpus):
    path, open_engine = embedded_dir
    engine = open_engine()
    engine.build(small(corpus, 20))
    (path / "v2").mkdir()  # a crash mid-build: files, no manifest
    (path / "v2" / "index.sqlite").write_bytes(b"partial")
    with pytest.raises(RuntimeError):
        engine.build(failing(corpus))
    assert sorted(p.name for p in path.glob("v*")) == ["v1"]
    assert (path / "CURRENT").read_text().strip() == "v1"
    assert engine.build(small(corpus, 20)).version > 1


def test_embedded_close_closes_every_thread_connection(embedded_dir, corpus):
    _, open_engine = embedded_dir
    engine = open_engine()
    engine.build(small(corpus, 20))
    threads = [threading.Thread(target=engine.keyword_works, args=("noise", WorkFilters(), 5)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(engine._connections) >= 3
    engine.close()
    assert engine._connections == set()


def stems(work):
    """Every term a query can match in a work, as the engines analyse it (topic labels are not matched)."""
    from search.text import analyze

    texts = [work.title, work.abstract or "", work.venue or "", *work.keywords]
    return set(analyze(" ".join([*texts, *(a.name for a in work.authors)])))


def test_embedded_prunes_common_terms(embedded_dir, corpus, monkeypatch):
    """Frequent terms are dropped when rarer ones exist; a query of only common terms ANDs them, then
    adds the works missing one of them when few hold them all."""
    import search.embedded as embedded
    from search.text import stem

    monkeypatch.setattr(embedded, "COMMON_MIN_DOCS", 10)
    monkeypatch.setattr(embedded, "TERM_DOCS_FLOOR", 0)
    monkeypatch.setattr(embedded, "POSTINGS_BUDGET", 60)
    monkeypatch.setattr(embedded, "RELAX_BELOW", 150)  # topic labels ("Neural Networks") count as text too
    _, open_engine = embedded_dir
    engine = open_engine()
    engine.build(small(corpus, 300))

    hits = engine.get_works([i for i, _ in engine.keyword_works("learning noisy labels", WorkFilters(), 100)])
    assert hits and all({stem("noisy"), stem("labels")} & stems(w) for w in hits)
    hits = engine.get_works([i for i, _ in engine.keyword_works("learning neural", WorkFilters(), 300)])
    held = [{stem("learning"), stem("neural")} <= stems(w) for w in hits]
    together = sum(held)
    assert 0 < together < embedded.RELAX_BELOW  # few works hold both, so those missing one follow them
    assert held == [True] * together + [False] * (len(hits) - together)
    assert all({stem("learning"), stem("neural")} & stems(w) for w in hits)
    total, _ = engine.work_facets("learning neural", [], WorkFilters())
    assert total == len(hits) > together


def test_common_word_queries_find_works_missing_one_word(new_engine, corpus, monkeypatch):
    """A query of only common words has no recall cliff: a work holding all but one of them is found."""
    import search.embedded as embedded
    from search.text import stem

    monkeypatch.setattr(embedded, "COMMON_MIN_DOCS", 2)  # at 300 works every word is common, as at 1M
    monkeypatch.setattr(embedded, "COMMON_RATIO", 0.0)
    monkeypatch.setattr(embedded, "TERM_DOCS_FLOOR", 0)
    monkeypatch.setattr(embedded, "RELAX_BELOW", 150)  # topic labels ("Neural Networks") count as text too
    engine = new_engine()
    engine.build(small(corpus, 300))
    words = {stem(w) for w in ("learning", "neural", "networks")}
    hits = engine.get_works([i for i, _ in engine.keyword_works("learning neural networks", WorkFilters(), 300)])
    held = [len(words & stems(w)) for w in hits]
    assert 3 in held and 2 in held


def test_all_but_one_term_expression():
    from search.embedded import all_but_one

    assert all_but_one(["a", "b", "c"]) == '("b" AND "c") OR ("a" AND "c") OR ("a" AND "b")'
    assert all_but_one(["a", "b"]) == '"a" OR "b"'


def test_embedded_refuses_a_version_of_another_format(embedded_dir, corpus):
    import json

    path, open_engine = embedded_dir
    open_engine().build(small(corpus, 20))
    manifest = path / "v1" / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format": 0}))
    with pytest.raises(EngineUnavailable, match="rebuild"):
        open_engine().info()


def test_embedded_query_plan_keeps_rare_terms_within_budget():
    from search.embedded import plan_match

    docs = {"minibatch": 50, "noise": 3_000, "learning": 90_000, "sgd": 800}
    assert plan_match(["minibatch", "noise", "learning", "sgd"], docs, common=50_000, budget=60_000) == '"minibatch" OR "noise" OR "sgd"'
    assert plan_match(["noise", "sgd", "minibatch"], docs, common=50_000, budget=1_000) == '"sgd" OR "minibatch"'
    assert plan_match(["learning"], docs, common=50_000, budget=60_000) == '"learning"'
    assert plan_match(["learning", "noise"], docs, common=1_000, budget=60_000) == '"learning" AND "noise"'
