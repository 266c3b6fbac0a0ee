"""Topics: labels deduplicated across spelling variants; every work gets one, derived where needed."""

from indexer.sources import read_records
from indexer.topics import assign_topics, label_key
from tests.support import FIXTURES, real_embedder


def test_label_variants_collapse():
    assert label_key("Neural Networks") == label_key("neural-network") == label_key("Neural network")
    assert label_key("Théorie des catégories") == label_key("THEORIE DES CATEGORIES")
    assert label_key("Probabilities") == "probability" and label_key("Physics") == "physics"


def test_every_work_gets_a_topic_and_derived_topics_have_readable_labels():
    works = [p.work for p in read_records(FIXTURES / "ml-venues.slice.jsonl.gz") if p.work][:150]
    works += [p.work for p in read_records(FIXTURES / "arxiv.slice.jsonl") if p.work]
    vectors = dict(zip([w.id for w in works], real_embedder().embed([w.embedding_text() for w in works])))
    work_topics, origin = assign_topics(works, vectors)
    assert all(work_topics[w.id] for w in works)
    arxiv = next(w for w in works if w.source == "arxiv")
    assert {t.label for t in work_topics[arxiv.id]} <= set(arxiv.source_topics)
    derived = {t.label for refs in work_topics.values() for t in refs if origin[t.id] == "derived"}
    assert derived and all(label[0].isupper() and len(label) > 3 for label in derived)
    assert not any(label.lower().split(", ")[0] in label.lower().split(", ")[-1] for label in derived if ", " in label)
    ids = [t.id for refs in work_topics.values() for t in refs]
    assert all(i.startswith("t-") and "/" not in i for i in ids)
