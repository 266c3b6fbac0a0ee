"""Topics in two levels, field -> topic, several weighted ones per work.

1. Source labels first: OpenAlex topics (with their field) or concepts (level >= 1 under the work's
   level-0 concept), arXiv categories (under their archive), ml-venues keywords. Labels merge across
   sources by `label_key` (case, diacritics, plural, hyphen, "&"/"and") and by acronyms the corpus
   itself spells out ("stochastic gradient descent (SGD)" makes "SGD" and the long form one topic),
   and across vocabularies that name one concept differently (`synonyms`: "Artificial neural
   network" in OpenAlex, "Neural Networks" in ml-venues).
2. Derived topics for works with fewer than MIN_SOURCE_TOPICS source topics: the embedding space is
   clustered twice (mini-batch k-means into fine clusters, then their centroids agglomerated into
   coarse ones within FIELD_DISTANCE, so each fine cluster has one parent). A cluster is labelled with the candidate phrase (a run of
   one to three content words, RAKE-style, from titles and abstracts) scoring best by c-TF-IDF
   (share of the cluster's works containing it x log inverse corpus frequency, after Grootendorst,
   "BERTopic", 2022, with a penalty for phrases eligible in many clusters) among phrases found in
   at least MIN_LABEL_SHARE of its works that lack source topics; a cluster with no such phrase is
   too mixed to name, and is halved (SPLIT_ROUNDS times) in search of parts that can be named. A work receives its own cluster's label and every topic whose centroid is at
   least as close to it as most of that topic's own works are (FLOOR_PERCENTILE): named clusters
   and source topics with MIN_TOPIC_WORKS works alike, at most MAX_DERIVED, weighted by similarity
   relative to the closest.
3. Fields: a work's source fields, else its coarse cluster's field (the field most of that
   cluster's labelled works share if they are a fair part of it, else the coarse cluster's own
   name, `_field_labels`: a phrase of MIN_FIELD_LABEL_SHARE of its works if it has one, of several
   words or a term the sources' vocabularies use, whole as its works say it: "natural language" is
   said as "natural language processing", and "real world" only qualifies what follows it). Every
   topic's parent is the field most of its works carry.

The stage never holds the corpus's titles and abstracts: it keeps each work's labels and vector row,
and reads the texts again from the works (the build's catalog snapshot) on each pass that needs them
(`_Phrases`: vocabulary, per-cluster phrase counts, the works saying a field's phrase, spellings).
"""

from __future__ import annotations

import functools
import re
import tempfile
import time
from array import array
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import compress
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, NamedTuple

import numpy as np
from scipy import sparse
from sklearn.cluster import AgglomerativeClustering, KMeans, MiniBatchKMeans
from threadpoolctl import threadpool_limits
from unidecode import unidecode

from models.records import TopicRef, Venue, Work, topic_id
from search import text as T

MAX_TOPICS_PER_WORK = 6
MIN_SOURCE_TOPICS = 2
MAX_DERIVED = 3
MIN_TOPIC_WORKS = 5
"""A topic is given to works by closeness only once this many works carry it (a centroid to trust)."""
FLOOR_PERCENTILE = 7
"""A work is close enough to a topic when it is at least as similar to its centroid as the topic's
own works at this percentile."""
WORKS_PER_TOPIC = 25
"""Fine clusters hold about this many works: specific enough to name ("Federated Learning"), large
enough that a label shared by a third of them is a pattern, not a coincidence."""
MIN_NARROWING_SHARE = 0.15
"""A single-word label gives way to the best phrase containing it found in this share of the works
("Language" -> "Language Model"): one word alone is usually broader than its cluster."""
FIELD_DISTANCE = 0.7
"""Fine clusters whose centroids are on average within this cosine distance form one field (chosen on
the dev split of `discovery eval topics`)."""
MAX_FIELD_SEEDS = 2000
SPLIT_ROUNDS = 2
"""Times an unnamed fine cluster may be halved in search of nameable parts (25 works -> 12 -> 6)."""
MIN_FIELD_LABEL_SHARE = 0.1
"""A field is named by a phrase in this share of its works if it has one (a field is broad), else by its
best phrase: every work has a field."""
BATCH_SIZE = 4096
"""Works per mini-batch of the fine k-means (scikit-learn's advice: above 256 x the cores)."""
FLAT_CLUSTERS_MAX = 2000
"""Up to this many fine clusters (50k works) one k-means finds them all; past it they are found within
about sqrt(k) coarse clusters, so that a work meets about 2 sqrt(k) centres instead of k (at 1M works,
400 instead of 40,000: one k-means over every cluster there took an hour)."""
COUNT_CHUNK = 1 << 22
"""(group, phrase) pairs read from the texts before they are summed into the per-group counts."""
HASH_BITS = 26
"""Buckets (one byte each: 64 MB) of the first count of phrases by hash, which spares the exact count the
many phrases said once."""
HASH_MASK = (1 << HASH_BITS) - 1
SIMILARITY_ROWS = 1024
"""Works (or fine clusters) compared with every topic's centroid at a time: rows x topics is never held whole."""
CANDIDATE_TOPICS = 400
"""Topics a work that needs derived topics is compared with: those furthest above their floor at its fine
cluster's centroid. Against every centroid, the step grew with the square of the corpus (fine clusters,
so topics, grow with it); on ml-venues (30k works) and its 100k recombination, 99.8% of those works
receive the same topics as against every centroid (bench/README.md, "Session 9, topics at scale")."""
MIN_LABEL_SHARE = 0.3
"""A derived label must occur in at least this share of its cluster's works (else the cluster is unnamed)."""
PHRASE_PREFERENCE = 0.3
"""A phrase of several words beats a better-scoring single word unless it scores below this share of it."""
EXTEND_SHARE = 1 / 3
"""A field's phrase gives way to the longer phrase one word before or after it makes in at least this
share of its occurrences ("natural language" -> "natural language processing")."""
MODIFIER_SHARE = 0.7
"""A phrase followed by another content word in at least this share of its occurrences qualifies
something else: on ml-venues "real world" .91, "high dimensional" .93, "open source" .77, while noun
phrases used before a noun now and then stay below ("machine learning" .52, "time series" .51,
"neural network" .23). It names no field."""
HEAD_RATIO = 2
"""A qualifier completed by one word at least this many times as often as by any other is named with it
("natural language" -> "processing" 117, "understanding" 48 in ACL papers); "real world" (dataset 529,
data 409) has no such head."""
MAX_FIELD_WORDS = 4
MIN_FIELD_SHARE, MIN_FIELD_VOTES, MIN_FIELD_COVERAGE = 0.5, 3, 0.2
"""A coarse cluster takes a source field when at least this share of its labelled works (and at
least this many) carry it, and its labelled works are at least MIN_FIELD_COVERAGE of its works: a
few arXiv q-bio works do not make a cluster of clinical papers "Quantitative Biology"."""
GENERIC = frozenset(
    """approach approaches method methods model models study studies analysis paper results result problem
    problems new novel propose proposed show shows present presents work framework task tasks performance
    effect effects case cases different various several important significant first two three one also
    however well high low large small based used provide provides provided existing recent recently
    state art demonstrate demonstrated experiments experimental general improve improved improving
    efficient effective simple able many way ways number set use application applications technique
    techniques system systems process order may thus often introduce introduced obtained known given
    term terms level levels type types range key best better data related make makes found find exact non
    respectively compared significantly including within without across among while since thereby
    might must shall whether either neither upon per et al
    abstract article review background objective conclusion conclusions methods purpose introduction""".split()
)
"""Words that name no subject: a phrase may not start or end with one (on top of T.STOPWORDS)."""
NOT_ALONE = frozenset(
    """learning theory structure relation observation solution information research impact network
    function equation field state phase order time space energy achieve particular finite smooth
    example concern quality control point form value change rate mean increase decrease factor role
    measure primary product association strength pattern risk society calculation surface level
    algorithm property condition behavior line curve self random online estimate bound preface label evaluate""".split()
)
"""Words that may end a label phrase ("reinforcement learning") but are too broad to be one alone."""
_MODIFIER_ENDINGS = ("ed", "ly", "ing", "ive", "ous", "al", "ar", "ent", "ant", "ble", "ic")
"""A single-word label ending like an adjective or a verb form ("stellar", "improving") names no subject."""
_INVARIANT = frozenset("series species news bias gas lens chaos cosmos atlas alias canvas physics ethics".split())
_KEEP_S = ("ss", "us", "is", "ics", "ous", "sis")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_SEGMENT = re.compile(r"[.,;:!?()\[\]{}\"“”]|\s[-–—]\s")
_ACRONYM = re.compile(r"\(([A-Z][A-Za-z]{1,7}?)s?\)")
_LONG_FORM = re.compile(r"(?:[A-Za-z][\w-]*\s+){1,6}$")
"""The words right before an acronym's parenthesis (searched only there: scanning every position is slow)."""


@functools.lru_cache(maxsize=1 << 16)
def _singular(word: str) -> str:
    """English plural -> singular for the words topic labels use; invariants ("series", "bias")
    and Latin/Greek endings ("analysis", "physics", "corpus") stay as they are."""
    if len(word) <= 3 or word in _INVARIANT or word.endswith(_KEEP_S):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("yses"):
        return word[:-2] + "is"
    if word.endswith(("sses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def _words(text: str) -> list[str]:
    # search.text's term rule (runs of letters/digits), so topics and search split text alike.
    return _ascii_words(_ascii(text))


def _ascii(text: str) -> str:
    """unidecode of the non-ASCII runs only: unidecode goes character by character in Python."""
    return text if text.isascii() else _NON_ASCII.sub(lambda m: unidecode(m.group(0)), text)


def _ascii_words(text: str) -> list[str]:
    return T.words(text.lower().replace("&", " and "))


def label_key(label: str) -> str:
    """Case, diacritics, punctuation, hyphen, "&"/"and" and plural variants collapse:
    'Neural-Networks' == 'neural network'; 'Signal & Image Processing' == 'signal and image processing';
    acronyms keep their letters ('SARS' stays 'sars', 'LLMs' becomes 'llm'). A trailing
    parenthesis ('Sinus (botany)', 'Large Language Model (LLM)') is a gloss, not part of the name."""
    words = T.words(unidecode(re.sub(r"\s*\([^)]*\)\s*$", "", label)).replace("&", " and "))
    shouted = len(words) > 1 and label.isupper()  # "THEORIE DES CATEGORIES": capitals, not acronyms
    return " ".join((not shouted and _acronym(w)) or _singular(w.lower()) for w in words)


def _acronym(word: str) -> str | None:
    if len(word) > 1 and word.isupper():
        return word.lower()
    if len(word) > 2 and word[:-1].isupper() and word.endswith("s"):
        return word[:-1].lower()
    return None


def _text(work: Work) -> str:
    """What topics read of a work's words: its title and abstract."""
    return f"{work.title}. {work.abstract or ''}"


class _Labels(NamedTuple):
    """What the topics stage keeps of each work throughout: its labels, never its title or abstract."""

    id: str
    source: str
    source_topics: list[str]
    keywords: list[str]
    topic_fields: dict[str, str]
    venue: Venue | None


def _kept(works: Iterable[Work], into: list[_Labels]) -> Iterator[Work]:
    """`works`, each one's labels appended to `into` as it passes."""
    for work in works:
        into.append(_Labels(work.id, work.source, work.source_topics, work.keywords, work.topic_fields, work.venue))
        yield work


def acronyms(works: Iterable[Work]) -> dict[str, str]:
    """Acronym key -> long-form key, where the corpus writes "long form (ACRONYM)" with matching
    initials at least twice and always (mostly) for the same long form."""
    seen: dict[str, Counter] = defaultdict(Counter)
    for work in works:
        text = _text(work)
        for match in _ACRONYM.finditer(text):
            before = _LONG_FORM.search(text, max(0, match.start() - 100), match.start())
            letters = match.group(1).lower()
            long_form = _words(before.group(0))[-len(letters):] if before else []
            if len(long_form) == len(letters) and all(w[0] == c for w, c in zip(long_form, letters)):
                seen[letters][" ".join(_singular(w) for w in long_form)] += 1
    result = {}
    for letters, forms in seen.items():
        form, count = forms.most_common(1)[0]
        if count >= 2 and count >= 0.6 * sum(forms.values()):
            result[letters] = form
    return result


def synonyms(works: Iterable[Work]) -> dict[str, str]:
    """Longer label key -> shorter one where two label vocabularies (a source's topics, another's
    keywords) name one concept differently: OpenAlex only says "artificial neural network", ml-venues
    only "neural network". The shorter is a phrase of two words or more that ends the longer, each is
    on MIN_TOPIC_WORKS works, and no vocabulary uses both forms: within one vocabulary "deep
    reinforcement learning" beside "reinforcement learning" is a narrower topic, and a conjunction
    ("disordered systems and neural networks") names more than its last part."""
    vocabularies: dict[str, set[tuple[str, str]]] = defaultdict(set)
    counts: Counter = Counter()
    for work in works:
        for kind, labels in (("topic", work.source_topics), ("keyword", work.keywords)):
            for label in labels:
                vocabularies[label_key(label)].add((work.source, kind))
                counts[label_key(label)] += 1
    result = {}
    for key, used in vocabularies.items():
        words = key.split()
        if "and" in words or counts[key] < MIN_TOPIC_WORKS:
            continue
        shorter = [" ".join(words[i:]) for i in range(1, len(words) - 1)]
        same = [s for s in shorter if counts[s] >= MIN_TOPIC_WORKS and not used & vocabularies[s]]
        if same:
            result[key] = same[0]
    return result


def _shortened(carriers: Counter, derived: set[str]) -> dict[str, str]:
    """Source key -> derived key, where a derived label ends exactly one source label of
    MIN_TOPIC_WORKS works and no source says it shorter: OpenAlex's "artificial neural network" and a
    cluster whose works say "neural network" are one topic (the rule of `synonyms`)."""
    tails: dict[str, list[str]] = defaultdict(list)
    for key, count in carriers.items():
        words = key.split()
        if count >= MIN_TOPIC_WORKS and "and" not in words:
            for i in range(1, len(words) - 1):
                tails[" ".join(words[i:])].append(key)
    return {tails[key][0]: key for key in sorted(derived) if len(tails.get(key, ())) == 1 and key not in carriers}


def candidate_phrases(text: str) -> list[str]:
    """Runs of one to three content words inside a clause, singularised: what a topic label may be."""
    phrases = []
    for segment in _SEGMENT.split(_ascii(text)):
        run: list[str] = []
        for word in [*_ascii_words(segment), ""]:
            if word and word not in T.STOPWORDS and not word.isdigit() and len(word) > 1:
                run.append(_singular(word))
                continue
            for n in (1, 2, 3):
                for i in range(len(run) - n + 1):
                    gram = run[i : i + n]
                    if gram[0] not in GENERIC and gram[-1] not in GENERIC:
                        phrases.append(" ".join(gram))
            run = []
    return phrases


def _may_be_candidate(phrase: str) -> bool:
    """Whether `candidate_phrases` may give `phrase` for some text (a necessary condition only)."""
    words = phrase.split()
    return len(words) <= 3 and words[0] not in GENERIC and words[-1] not in GENERIC


@dataclass
class _Clusters:
    fine: np.ndarray  # work row -> fine cluster
    coarse_of: np.ndarray  # fine cluster -> coarse cluster
    centroids: np.ndarray  # fine centroids, unit length


def _cluster(matrix: np.ndarray) -> _Clusters:
    """Fine k-means on the works (about WORKS_PER_TOPIC works each), coarse k-means on the fine centroids.

    Mini-batch k-means (Sculley, "Web-scale k-means clustering", 2010) from random works as seeds:
    full k-means with k-means++ seeding and some thousand clusters took minutes on 30k works (the
    seeding alone most of it); this takes seconds. A fixed seed and rows in
    a fixed order (the caller's) make a rebuild of the same catalog give the same clusters."""
    k = max(1, min(len(matrix), round(len(matrix) / WORKS_PER_TOPIC)))
    labels, centres = _kmeans(matrix, k) if k <= FLAT_CLUSTERS_MAX else _nested_kmeans(matrix, k)
    centroids = centres / np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-9)
    return _Clusters(labels, _fields_of(centroids, np.bincount(labels, minlength=len(centroids))), centroids)


def _kmeans(matrix: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's cluster and the k centres. The labels come from the fit (`labels_`: each row's nearest
    final centre, what a second `predict` pass would give)."""
    fit = MiniBatchKMeans(n_clusters=k, init="random", batch_size=BATCH_SIZE, n_init=1, random_state=0).fit(matrix)
    return fit.labels_, fit.cluster_centers_


def _nested_kmeans(matrix: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """About k clusters as k-means within k-means: about sqrt(k) coarse clusters, each split into its
    share of the fine ones (its works / WORKS_PER_TOPIC), as an inverted-file index partitions vectors
    (Jegou et al., "Product quantization for nearest neighbor search", 2011). A work near the border
    of two coarse clusters may miss a fine centre across it: the price of not meeting every centre."""
    labels = np.empty(len(matrix), dtype=np.int32)
    centres: list[np.ndarray] = []
    taken = 0
    for rows in _members(_kmeans(matrix, round(np.sqrt(k)))[0]):
        share = max(1, round(len(rows) / WORKS_PER_TOPIC))
        if share == 1:
            within, centre = np.zeros(len(rows), dtype=np.int32), matrix[rows].mean(axis=0, keepdims=True)
        else:
            within, centre = _kmeans(matrix[rows], share)
        labels[rows] = taken + within
        centres.append(centre)
        taken += len(centre)
    return labels, np.concatenate(centres)


def _members(labels: np.ndarray) -> list[np.ndarray]:
    """The rows of each label present, in label order, each ascending."""
    order = np.argsort(labels, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)


def _fields_of(centroids: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Fine cluster -> coarse cluster (a field): average-linkage agglomeration of the fine centroids
    cut at FIELD_DISTANCE (cosine). A distance, not a count, bounds a field, so a corpus of mostly
    machine learning does not spend its fields on machine learning alone while a thousand medical,
    chemical and economic papers share one. Past MAX_FIELD_SEEDS fine clusters, their centroids are
    first reduced by k-means (the agglomeration holds all pairwise distances)."""
    if len(centroids) < 2:
        return np.zeros(len(centroids), dtype=int)
    seeds, seed_of = centroids, np.arange(len(centroids))
    if len(centroids) > MAX_FIELD_SEEDS:
        reduced = KMeans(n_clusters=MAX_FIELD_SEEDS, n_init=1, random_state=0).fit(centroids, sample_weight=np.maximum(sizes, 1))
        seeds, seed_of = reduced.cluster_centers_, reduced.labels_
    tree = AgglomerativeClustering(n_clusters=None, distance_threshold=FIELD_DISTANCE, metric="cosine", linkage="average")
    return tree.fit(seeds).labels_[seed_of]


class _Texts:
    """(row, title and abstract) of each embedded work, read from `works` again on every pass: the
    stage holds the text of the work at hand, never the corpus's."""

    def __init__(self, works: Iterable[Work], row_of: dict[str, int]):
        self.works, self.row_of = works, row_of

    def __iter__(self) -> Iterator[tuple[int, str]]:
        for work in self.works:
            row = self.row_of.get(work.id)
            if row is not None:
                yield row, _text(work)


@dataclass
class _Counts:
    """Group x phrase: how many of a group's works say each phrase (c-TF-IDF's term counts), with the
    groups' sizes. A phrase only one work of a group says never names it, so such counts are dropped.
    `first`: for each count, the first of the group's works (row) saying the phrase."""

    in_group: sparse.csr_matrix
    first: np.ndarray
    sizes: np.ndarray

    @classmethod
    def of(cls, groups: np.ndarray, terms: np.ndarray, counts: np.ndarray, first: np.ndarray, shape: tuple[int, int],
           sizes: np.ndarray) -> "_Counts":
        """From (group, phrase, count, first row) entries, each pair once, counts of two or more kept."""
        keep = counts >= 2
        groups, terms, counts, first = groups[keep], terms[keep], counts[keep], first[keep]
        order = np.lexsort((terms, groups))
        indptr = np.concatenate([[0], np.cumsum(np.bincount(groups, minlength=shape[0]))])
        in_group = sparse.csr_matrix((counts[order].astype(np.float64), terms[order], indptr), shape=shape)
        return cls(in_group, first[order], sizes)

    def entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(group, phrase, count, first row) of every count."""
        groups = np.repeat(np.arange(self.in_group.shape[0]), np.diff(self.in_group.indptr))
        return groups, self.in_group.indices, self.in_group.data, self.first


class _Phrases:
    """The candidate phrases of a stream of (row, text), never the texts kept: the vocabulary is every
    phrase two texts or more say (alphabetical), with its inverse document frequency and where the
    corpus first says it (row, then place in that text's phrases); `counts` sums them by group.

    Most distinct phrases are said once, so a first pass counts texts per hashed phrase in a fixed
    array (up to 2) and the exact counts keep only phrases whose bucket reached two: memory follows
    the vocabulary, not the corpus. Collisions only let a few once-said phrases into the exact count.
    That second pass also keeps each text's vocabulary phrases as int32 column ids in a file (mapped,
    so the page cache holds it), from which `counts` and `saying` work without splitting texts again."""

    def __init__(self, texts: Iterable[tuple[int, str]], lap: Callable[[str], None] = lambda _: None,
                 directory: Path | None = None):
        self.texts = texts
        buckets = np.zeros(1 << HASH_BITS, dtype=np.uint8)
        pending = array("q")

        def flush() -> None:
            hashed, times = np.unique(np.frombuffer(pending, dtype=np.int64), return_counts=True)
            buckets[hashed] = np.minimum(buckets[hashed] + np.minimum(times, 2), 2)
            del pending[:]

        for _, text in texts:
            pending.extend(hash(phrase) & HASH_MASK for phrase in set(candidate_phrases(text)))
            if len(pending) >= COUNT_CHUNK:
                flush()
        flush()
        lap("hashed count")
        self._file = tempfile.TemporaryFile(prefix="topic-phrases-", suffix=".i32", dir=directory)
        first_id: dict[str, int] = {}  # phrase -> id in order of first sight
        df, met = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        ids, wheres, rows, lengths = array("i"), array("q"), array("i"), array("q")

        def keep() -> None:  # a chunk of (phrase id, where said) into the file, df and first place
            nonlocal df, met
            grown = len(first_id) - len(df)
            df = np.concatenate([df, np.zeros(grown, dtype=np.int64)])
            met = np.concatenate([met, np.full(grown, np.iinfo(np.int64).max)])
            chunk = np.frombuffer(ids, dtype=np.int32)
            df += np.bincount(chunk, minlength=len(df))
            np.minimum.at(met, chunk, np.frombuffer(wheres, dtype=np.int64))
            del chunk  # a view of `ids`, which is emptied next
            ids.tofile(self._file)
            del ids[:], wheres[:]

        for row, text in texts:
            places: dict[str, int] = {}
            for place, phrase in enumerate(candidate_phrases(text)):
                places.setdefault(phrase, place)
            hashed = np.fromiter((hash(phrase) & HASH_MASK for phrase in places), dtype=np.int64, count=len(places))
            twice = (buckets[hashed] >= 2).tolist()
            said = [first_id.setdefault(phrase, len(first_id)) for phrase in compress(places, twice)]
            ids.extend(said)
            wheres.extend((row << 32) | place for place in compress(places.values(), twice))
            rows.append(row)
            lengths.append(len(said))
            if len(ids) >= COUNT_CHUNK:
                keep()
        keep()
        self._file.flush()
        del buckets
        n_docs = len(rows)
        phrases = list(first_id)
        del first_id
        order = sorted(np.flatnonzero(df >= 2).tolist(), key=phrases.__getitem__)
        self.vocabulary = np.array([phrases[i] for i in order], dtype=object)
        del phrases
        self.idf = np.log(n_docs / df[order])
        self.met = met[order]
        column_of = np.full(len(df), -1, dtype=np.int32)
        column_of[order] = np.arange(len(order), dtype=np.int32)
        del df, met, order
        self.column = {p: i for i, p in enumerate(self.vocabulary)}
        self.rows = np.frombuffer(rows, dtype=np.int32).copy()  # text -> its row, in stream order
        self.bounds = np.concatenate([[0], np.cumsum(np.frombuffer(lengths, dtype=np.int64))])
        self.said = np.memmap(self._file, dtype=np.int32, mode="r+", shape=(int(self.bounds[-1]),)) if self.bounds[-1] else np.zeros(0, np.int32)
        for start in range(0, len(self.said), COUNT_CHUNK):  # phrase ids -> column ids (-1: outside the vocabulary)
            self.said[start : start + COUNT_CHUNK] = column_of[self.said[start : start + COUNT_CHUNK]]
        lap("vocabulary")

    def _said(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(row, column) of the vocabulary phrases each text says, COUNT_CHUNK of them at a time."""
        text = 0
        while text < len(self.rows):
            end = int(np.searchsorted(self.bounds, self.bounds[text] + COUNT_CHUNK, side="right")) - 1
            end = max(end, text + 1)
            columns = np.asarray(self.said[self.bounds[text] : self.bounds[end]])
            rows = np.repeat(self.rows[text:end], np.diff(self.bounds[text : end + 1]))
            inside = columns >= 0
            yield rows[inside], columns[inside]
            text = end

    @functools.cached_property
    def several_words(self) -> np.ndarray:
        """Mask over the vocabulary: phrases of more than one word."""
        return np.fromiter((" " in p for p in self.vocabulary), dtype=bool, count=len(self.vocabulary))

    @functools.cached_property
    def _containing(self) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
        """word -> its number, and the columns of the phrases saying each word, grouped by word
        (flat arrays: millions of phrases at 100k works would cost far more as lists)."""
        numbers: dict[str, int] = {}
        word_of, column_of = array("q"), array("q")
        for column in np.flatnonzero(self.several_words).tolist():
            for word in set(self.vocabulary[column].split()):
                word_of.append(numbers.setdefault(word, len(numbers)))
                column_of.append(column)
        words = np.frombuffer(word_of, dtype=np.int64)
        order = np.argsort(words, kind="stable")
        starts = np.searchsorted(words[order], np.arange(len(numbers) + 1))
        return numbers, np.frombuffer(column_of, dtype=np.int64)[order], starts

    def containing(self, word: str) -> np.ndarray:
        """The columns of the phrases of several words that have `word` among their words (ascending)."""
        numbers, columns, starts = self._containing
        number = numbers.get(word)
        return columns[:0] if number is None else columns[starts[number] : starts[number + 1]]

    def counts(self, *selections: tuple[np.ndarray, int, np.ndarray | None]) -> list[_Counts]:
        """For each (groups: row -> group, number of groups, rows or None for all), the counts of
        its groups over its rows."""
        width = max(len(self.vocabulary), 1)
        result = []
        for groups, n, selected in selections:
            mask = np.zeros(len(groups), dtype=bool)
            mask[slice(None) if selected is None else selected] = True
            total = sparse.csr_matrix((n, width), dtype=np.int64)
            least = sparse.csr_matrix((n, width), dtype=np.int64)  # row count - first row
            for rows, columns in self._said():
                chosen = mask[rows]
                rows, keys = rows[chosen], groups[rows[chosen]].astype(np.int64) * width + columns[chosen]
                if not len(keys):
                    continue
                order = np.lexsort((rows, keys))
                keys, rows = keys[order], rows[order]
                starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
                keys, times, first = keys[starts], np.diff(np.append(starts, len(keys))), rows[starts]
                where = (keys // width, keys % width)
                total = total + sparse.csr_matrix((times, where), shape=total.shape)
                least = least.maximum(sparse.csr_matrix((len(mask) - first, where), shape=total.shape))
            entry_groups = np.repeat(np.arange(n), np.diff(total.indptr))
            sizes = np.bincount(groups[mask], minlength=n).astype(np.float64)
            result.append(_Counts.of(entry_groups, total.indices, total.data, len(mask) - least.data, total.shape, sizes))
        return result

    def in_touch_order(self, counts: _Counts) -> sparse.csr_matrix:
        """The counts with each group's phrases in the order the former product of sparse matrices
        (group x work @ work x phrase, scipy's) listed them, which breaks ties between equal scores:
        by the first of the group's works saying the phrase, then the phrase's first place in the
        corpus, last first. Kept so that labels stay exactly as they were."""
        groups, terms, data, first = counts.entries()
        order = np.lexsort((-self.met[terms], -first, groups))
        return sparse.csr_matrix((data[order], terms[order], counts.in_group.indptr), shape=counts.in_group.shape)

    def saying(self, phrases: set[str]) -> Iterator[tuple[str, str]]:
        """(phrase, text) for every text among whose candidate phrases one of `phrases` is, in one pass.
        Vocabulary phrases are found in the kept column ids. A phrase no text can say (over three
        words, or starting or ending with a generic word: "large language model") is in none; any
        other (said by one text at most) is looked for in the texts lacking none of its words' stems
        (the word less its last two letters: what `_singular` may have changed), split again."""
        known = {self.column[p]: p for p in phrases if p in self.column}
        stems = {p: [w[:-2] for w in p.split()] for p in phrases - set(known.values()) if _may_be_candidate(p)}
        wanted = np.array(sorted(known), dtype=np.int32)
        by_row: dict[int, list[str]] = defaultdict(list)
        for rows, columns in self._said():
            hit = np.isin(columns, wanted)
            for row, column in zip(rows[hit].tolist(), columns[hit].tolist()):
                by_row[row].append(known[column])
        for row, text in self.texts:
            yield from ((phrase, text) for phrase in by_row.get(row, ()))
            if stems:
                lower = _ascii(text).lower()
                maybe = [p for p, words in stems.items() if all(w in lower for w in words)]
                if maybe:
                    said = set(candidate_phrases(text))
                    yield from ((phrase, text) for phrase in maybe if phrase in said)


def _cluster_labels(phrases: _Phrases, counts: _Counts, min_share: float = MIN_LABEL_SHARE) -> dict[int, str]:
    """c-TF-IDF: each group's best candidate phrase found in at least `min_share` of its works
    (of the rows `counts` were summed over: the works that will carry the label); see `_Labeller`."""
    nameable = np.array([" " in p or (p not in NOT_ALONE and not p.endswith(_MODIFIER_ENDINGS)) for p in phrases.vocabulary], dtype=bool)
    return _Labeller(phrases, counts, min_share, nameable, phrases.in_touch_order(counts)).labels()


class _Labeller:
    """The labels of `_cluster_labels` among the phrases `nameable` marks (a mask over the vocabulary),
    kept so that when phrases are passed over (`pass_over`) only the groups where they were eligible
    are labelled again. A phrase's spread (in how many groups it is eligible) does not change when
    other phrases are turned off, so one computation serves every round."""

    def __init__(self, phrases: _Phrases, counts: _Counts, min_share: float, nameable: np.ndarray, in_group: sparse.csr_matrix):
        self.phrases, self.in_group, self.nameable = phrases, in_group, nameable
        self.by_phrase = in_group.tocsc()  # phrase -> the groups saying it, for `pass_over`
        n_groups = len(counts.sizes)
        rows = np.repeat(np.arange(n_groups), np.diff(in_group.indptr))
        self.share = in_group.data / np.maximum(counts.sizes[rows], 1)
        self.fits = (self.share >= min_share) & (in_group.data >= 2)
        eligible = self.fits & nameable[in_group.indices]
        # A phrase eligible in many groups ("theory", "observation") names none of them.
        self.spread = np.log(1 + n_groups / np.maximum(np.bincount(in_group.indices[eligible], minlength=len(phrases.vocabulary)), 1))
        self.chosen: dict[int, str] = {}
        for group in range(n_groups):
            self._label(group)

    def labels(self) -> dict[int, str]:
        return dict(sorted(self.chosen.items()))

    def pass_over(self, columns: list[int]) -> None:
        """Turn `columns` off (in the shared `nameable` mask too) and label again the groups having them."""
        self.nameable[columns] = False
        indptr, groups = self.by_phrase.indptr, self.by_phrase.indices
        for group in np.unique(np.concatenate([groups[indptr[c] : indptr[c + 1]] for c in columns])).tolist():
            self._label(group)

    def _label(self, g: int) -> None:
        """Group g's best eligible phrase; a phrase narrowing it, or a fair-share phrase narrowing a lone word."""
        in_group, vocabulary, idf = self.in_group, self.phrases.vocabulary, self.phrases.idf
        span = slice(in_group.indptr[g], in_group.indptr[g + 1])
        ok = self.fits[span] & self.nameable[in_group.indices[span]]
        terms = in_group.indices[span][ok]
        if not len(terms):
            self.chosen.pop(g, None)
            return
        several_words = self.phrases.several_words
        score = self.share[span][ok] * idf[terms] * self.spread[terms]
        top = int(np.argmax(score))  # the first of equal scores, in the group's touch order
        # A phrase that narrows the best word ("label" -> "noisy label") names the group better.
        several = np.flatnonzero(several_words[terms])
        narrower = several[np.isin(terms[several], self.phrases.containing(vocabulary[terms[top]]))]
        candidates = narrower if len(narrower) else several
        if len(candidates):
            phrase = int(candidates[np.argmax(score[candidates])])
            if score[phrase] >= PHRASE_PREFERENCE * score[top]:
                top = phrase
        best = int(terms[top])
        if not several_words[best]:  # a lone word ("Language") narrows to a phrase of a fair share, never one passed over
            all_terms, counts = in_group.indices[span], in_group.data[span]
            fair = (self.share[span] >= MIN_NARROWING_SHARE) & (counts >= 2) & self.nameable[all_terms]
            narrower = np.flatnonzero(fair & np.isin(all_terms, self.phrases.containing(vocabulary[best])))
            if len(narrower):
                best = int(all_terms[narrower[np.argmax(counts[narrower] * idf[all_terms[narrower]])]])
        self.chosen[g] = vocabulary[best]


def _field_labels(phrases: _Phrases, counts: _Counts, recognised: set[str]) -> dict[int, str]:
    """Coarse cluster -> its name as a field: the best c-TF-IDF phrase found in MIN_FIELD_LABEL_SHARE of
    its works (else in any share: every field is named) that can name a field. That is a phrase of
    several words, or a lone word only where a source's vocabulary uses it as a label ("Optics"; not
    "Mass", nor an adjective); a phrase mostly said as part of a longer one names the field by that
    one (`_field_phrases`, over every work saying it), and one that mostly qualifies a following word is passed over."""
    said_as: dict[str, str | None] = {}
    # Judged once over the whole vocabulary (millions of phrases at 100k works), not on every round.
    nameable = np.array([" " in p or (p in recognised and p not in NOT_ALONE and not p.endswith(_MODIFIER_ENDINGS))
                         for p in phrases.vocabulary], dtype=bool)
    in_group = phrases.in_touch_order(counts)  # sorted once too: the counts do not change between rounds
    # Every round relabels only the groups where a passed-over phrase was eligible (hundreds of rounds at 100k works).
    any_share, fair_share = (_Labeller(phrases, counts, share, nameable, in_group) for share in (0, MIN_FIELD_LABEL_SHARE))
    while True:
        chosen = {**any_share.labels(), **fair_share.labels()}
        unjudged = {p for p in chosen.values() if " " in p and p not in said_as}
        said_as.update(_field_phrases(unjudged, phrases.saying))
        named = {group: said_as[phrase] if " " in phrase else phrase for group, phrase in chosen.items()}
        qualifiers = {chosen[g] for g, name in named.items() if name is None}
        if not qualifiers:
            return named
        passed_over = [phrases.column[q] for q in qualifiers]
        any_share.pass_over(passed_over)
        fair_share.pass_over(passed_over)


def _field_phrase(phrase: str, texts: list[str]) -> str | None:
    """`phrase` as a field's name, judged by the words next to it in `texts` (the works saying it):
    the longer phrase one content word before or after it makes in EXTEND_SHARE of its occurrences
    ("language processing" -> "natural language processing", "large language" -> "large language
    model"; up to MAX_FIELD_WORDS words); when a content word follows it in MODIFIER_SHARE of them, it
    with its clear head (HEAD_RATIO), else None ("real world" data); else the phrase itself."""
    return _field_phrases({phrase}, lambda _: ((phrase, text) for text in texts))[phrase]


def _field_phrases(phrases: set[str], saying: Callable[[set[str]], Iterable[tuple[str, str]]]) -> dict[str, str | None]:
    """`_field_phrase` of several phrases at once, each judged by the texts saying it
    (`saying(phrases)` gives the pairs): one pass of `saying` per step of lengthening."""
    now = {phrase: phrase for phrase in phrases}
    result: dict[str, str | None] = {}
    while now:
        contexts = {phrase: _Context(said) for phrase, said in now.items()}
        for phrase, text in saying(set(now)):
            contexts[phrase].read(text)
        for phrase, context in contexts.items():
            longer = context.verdict()
            if longer not in (None, now[phrase]) and len(longer.split()) <= MAX_FIELD_WORDS:
                now[phrase] = longer
            else:
                said = now.pop(phrase)
                result[phrase] = None if longer is None else said
    return result


class _Context:
    """One step of `_field_phrase`, text by text: the words right before and after `phrase` where the
    texts say it; `verdict` is the longer phrase, the phrase itself, or None for a qualifier."""

    def __init__(self, phrase: str):
        self.phrase = phrase
        self.pattern = re.compile(r"(?:\b([A-Za-z]\w*)[ \t-]+)?\b" + _spelled(phrase) + r"\b(?:[ \t-]+([A-Za-z]\w*))?", re.I)
        self.before: Counter = Counter()
        self.after: Counter = Counter()
        self.occurrences = self.followed = 0

    def read(self, text: str) -> None:
        for match in self.pattern.finditer(_ascii(text)):
            self.occurrences += 1
            left, right = (_singular(w.lower()) if w else "" for w in match.groups())
            if left and left not in T.STOPWORDS:
                self.before[left] += 1
            if right and right not in T.STOPWORDS:
                self.followed += 1
                self.after[right] += 1

    def verdict(self) -> str | None:
        phrase, after = self.phrase, self.after
        longer = [(count, f"{phrase} {word}") for word, count in after.items()] + [
            (count, f"{word} {phrase}") for word, count in self.before.items()]
        count, best = max(longer, default=(0, phrase))
        if count >= max(2, EXTEND_SHARE * self.occurrences):
            return best
        if not self.occurrences or self.followed < MODIFIER_SHARE * self.occurrences:
            return phrase
        (head, first), *rest = after.most_common(2)  # a qualifier: named with its clear head, if it has one
        return f"{phrase} {head}" if first >= max(2, HEAD_RATIO * (rest[0][1] if rest else 0)) else None


def _spelled(key: str) -> str:
    """A regular expression for the ways texts spell a label key: plurals, hyphens or spaces between words."""
    words = [re.escape(w[:-1]) + "(?:y|ies)" if w.endswith("y") else re.escape(w) + "(?:e?s)?" for w in key.split()]
    return r"[\s-]+".join(words)


def _displays(wanted: list[tuple[str, np.ndarray, int]], texts: Iterable[tuple[int, str]]) -> dict[str, str]:
    """Each (key, row -> group, group) in one pass: the label as the group's works spell it most often
    ("SARS-CoV", "SGD"; a tie goes to the spelling met first in row order), lower-case words capitalised."""
    keys_of: dict[int, tuple[np.ndarray, dict[int, str]]] = {}
    for key, groups, group in wanted:
        keys_of.setdefault(id(groups), (groups, {}))[1].setdefault(group, key)
    patterns = {key: re.compile(r"\b" + _spelled(key) + r"\b", re.I) for key, _, _ in wanted}
    forms: dict[str, dict[str, list]] = defaultdict(dict)  # key -> spelling -> [count, (row, place) first met]
    for row, text in texts:
        for groups, key_of in keys_of.values():
            key = key_of.get(int(groups[row]))
            if key is None:
                continue
            for place, match in enumerate(patterns[key].finditer(_ascii(text))):
                seen = forms[key].setdefault(match.group(0), [0, (row, place)])
                seen[0] += 1
                seen[1] = min(seen[1], (row, place))
    result = {}
    for key, _, _ in wanted:
        spelled = forms.get(key)
        surface = min(spelled, key=lambda s: (-spelled[s][0], spelled[s][1])) if spelled else key
        result[key] = " ".join(w if any(c.isupper() for c in w) else w.capitalize() for w in re.split(r"\s+", surface))
    return result

class _Laps:
    """Seconds per sub-step of the stage, added up in `into` (bench/topics.py's; None keeps nothing)."""

    def __init__(self, into: dict[str, float] | None):
        self.into, self.clock = into, time.perf_counter()

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        if self.into is not None:
            self.into[step] = self.into.get(step, 0.0) + now - self.clock
        self.clock = now


def assign_topics(
    works: Iterable[Work], vectors: Mapping[str, np.ndarray], seconds: dict[str, float] | None = None,
    directory: Path | None = None,
) -> tuple[dict[str, list[TopicRef]], dict[str, str]]:
    """Work id -> its weighted fields and topics; topic id -> origin ("source" or "derived").

    `works` is read several times (a list, or the build's catalog snapshot, which reads the catalog
    again on each pass), in any order: what stays in memory is each work's labels, its vector row
    and cluster, and phrase counts per cluster, never the titles and abstracts. Each text's phrase ids
    go to a temporary file in `directory` (None: the system's temporary folder). `seconds` receives
    the time of each sub-step (for `bench/topics.py`)."""
    lap = _Laps(seconds)
    records: list[_Labels] = []
    long_forms = acronyms(_kept(works, records))
    records.sort(key=lambda w: w.id)  # ties (display spellings, parents, clusters) never follow input order
    same = synonyms(records)

    def canonical(label: str) -> str:
        key = label_key(label)
        key = long_forms.get(key, key)
        return same.get(key, key)

    display: dict[str, Counter] = defaultdict(Counter)
    origin: dict[str, str] = {}
    topics: dict[str, dict[str, float]] = {}
    fields: dict[str, dict[str, float]] = {}
    recognised: set[str] = set()  # keys of the sources' own vocabularies (OpenAlex, arXiv; not free keywords)
    for work in records:
        topics[work.id], fields[work.id] = {}, {}
        for rank, label in enumerate(work.source_topics + work.keywords):
            key = canonical(label)
            if key and key not in topics[work.id] and len(topics[work.id]) < MAX_TOPICS_PER_WORK:
                topics[work.id][key] = round(max(0.5, 1.0 - 0.1 * rank), 3)
                display[key][label] += 1
                origin.setdefault(key, "source")
                if rank < len(work.source_topics) and "(" not in label:  # "Spike (software development)": a guess
                    recognised.add(key)
                field = work.topic_fields.get(label)
                if field and canonical(field):
                    recognised.add(canonical(field))
                    fields[work.id].setdefault(canonical(field), 1.0)
                    display[canonical(field)][field] += 1
                    origin.setdefault(canonical(field), "source")

    embedded = [w for w in records if w.id in vectors]
    lap("source labels")
    if embedded:
        matrix = np.stack([vectors[w.id] for w in embedded]).astype(np.float32)
        clusters = _cluster(matrix)
        lap("clustering")
        texts = _Texts(works, {w.id: row for row, w in enumerate(embedded)})
        phrases = _Phrases(texts, lap, directory)
        unlabelled = np.array([i for i, w in enumerate(embedded) if len(topics[w.id]) < MIN_SOURCE_TOPICS], dtype=int)
        coarse = clusters.coarse_of[clusters.fine]
        counts, coarse_counts = phrases.counts((clusters.fine, len(clusters.centroids), unlabelled),
                                               (coarse, int(coarse.max()) + 1, None))
        lap("counts")
        fine = _cluster_labels(phrases, counts)
        lap("labels")
        for _ in range(SPLIT_ROUNDS):
            halved = _halve_unnamed(matrix, clusters.fine, set(clusters.fine[unlabelled].tolist()) - set(fine))
            lap("clustering")
            counts = _recounted(phrases, counts, clusters.fine, halved, unlabelled)
            lap("counts")
            clusters.fine = halved
            fine = _cluster_labels(phrases, counts)
            lap("labels")
        fine_labels = {c: canonical(k) for c, k in fine.items()}
        for longer, key in _shortened(Counter(k for own in topics.values() for k in own), set(fine_labels.values())).items():
            for work_id, own in topics.items():
                if longer in own:
                    topics[work_id] = {key if k == longer else k: w for k, w in own.items()}
            del display[longer]  # the works' own spelling of the shorter form names the topic
            origin[key] = origin.pop(longer)
        lap("labels")
        coarse_labels = {c: canonical(k) for c, k in _field_labels(phrases, coarse_counts, recognised).items()}
        del counts, coarse_counts
        coarse_fields = _coarse_fields(embedded, coarse, fields, coarse_labels)
        wanted: dict[str, tuple[str, np.ndarray, int]] = {}
        for group, key, labels in [*((c, k, clusters.fine) for c, k in fine_labels.items()),
                                   *((c, k, coarse) for c, k in coarse_fields.items())]:
            if key not in display:
                wanted.setdefault(key, (key, labels, group))
                origin.setdefault(key, "derived")
        lap("field naming")
        for key, label in _displays(list(wanted.values()), texts).items():
            display[key][label] += 1
        lap("displays")
        keys, centroids, floors = _topic_centroids(embedded, matrix, topics, clusters, fine_labels)
        for row, work in enumerate(embedded):
            if not fields[work.id] and int(coarse[row]) in coarse_fields:
                fields[work.id][coarse_fields[int(coarse[row])]] = 1.0
        deriving = np.array([row for row, w in enumerate(embedded) if len(topics[w.id]) < MIN_SOURCE_TOPICS], dtype=int)
        for rows, candidates, sims in _candidate_topics(matrix, clusters.fine, deriving, centroids, floors):
            names, their_floors = [keys[i] for i in candidates], floors[candidates]
            for row, sim in zip(rows.tolist(), sims):
                work = embedded[row]
                own = fine_labels.get(int(clusters.fine[row]))
                close = [i for i in np.flatnonzero(sim >= their_floors) if names[i] not in topics[work.id]]
                if not close and not own and not topics[work.id] and keys:  # never topic-less: the nearest one
                    close = [int(np.argmax(sim))]
                close = sorted(close, key=lambda i: -sim[i])[:MAX_DERIVED]
                best = max([sim[i] for i in close] or [1.0])
                if own and own not in topics[work.id] and own not in {names[i] for i in close}:
                    topics[work.id][own] = 1.0
                for i in close:
                    topics[work.id].setdefault(names[i], round(float(sim[i] / best), 3))

    parent: dict[str, Counter] = defaultdict(Counter)
    for work in records:
        for key in topics[work.id]:
            parent[key].update(fields[work.id])
    refs = {key: display[key].most_common(1)[0][0] for key in display}
    result: dict[str, list[TopicRef]] = {}
    for work in records:
        own = [TopicRef(topic_id(k), refs[k], w, "field") for k, w in fields[work.id].items() if k not in topics[work.id]]
        for key, weight in sorted(topics[work.id].items(), key=lambda kv: -kv[1]):
            up = parent[key].most_common(1)[0][0] if parent[key] else None
            own.append(TopicRef(topic_id(key), refs[key], weight, "topic", topic_id(up) if up and up != key else None))
        if not own:  # no label and no vector: its venue, never topic-less
            label = work.venue.name if work.venue else "Uncategorised"
            key = label_key(label) or "uncategorised"
            refs.setdefault(key, label)
            origin.setdefault(key, "derived")
            own.append(TopicRef(topic_id(key), refs[key]))
        result[work.id] = own
    lap("assignment")
    return result, {topic_id(k): o for k, o in origin.items()}


def _recounted(phrases: _Phrases, counts: _Counts, before: np.ndarray, after: np.ndarray, rows: np.ndarray) -> _Counts:
    """`counts` (of `rows`, grouped as `before`) grouped as `after`, where some groups were halved:
    only the works of the changed groups are read again."""
    changed = np.unique(np.concatenate([before[before != after], after[before != after]]))
    n = int(after.max()) + 1
    (fresh,) = phrases.counts((after, n, rows[np.isin(after[rows], changed)]))
    old, new = counts.entries(), fresh.entries()
    kept = ~np.isin(old[0], changed)
    merged = [np.concatenate([o[kept], f]) for o, f in zip(old, new)]
    return _Counts.of(*merged, shape=(n, counts.in_group.shape[1]), sizes=np.bincount(after[rows], minlength=n).astype(np.float64))


def _halve_unnamed(matrix: np.ndarray, groups: np.ndarray, unnamed: set[int]) -> np.ndarray:
    """Each `unnamed` cluster (no phrase in MIN_LABEL_SHARE of its works) of at least 2 x MIN_TOPIC_WORKS
    works splits in two by k-means, the second half under a new id: where works are sparse (a thousand
    papers across medicine, chemistry and economics) a fine cluster is often two topics, each nameable."""
    groups = groups.copy()
    next_id = int(groups.max()) + 1
    for rows in _members(groups):
        if int(groups[rows[0]]) not in unnamed or len(rows) < 2 * MIN_TOPIC_WORKS:
            continue
        halves = KMeans(n_clusters=2, n_init=1, random_state=0).fit_predict(matrix[rows])
        if min(np.bincount(halves, minlength=2)) >= MIN_TOPIC_WORKS:
            groups[rows[halves == 1]] = next_id
            next_id += 1
    return groups


def _candidate_topics(
    matrix: np.ndarray, groups: np.ndarray, rows: np.ndarray, centroids: np.ndarray, floors: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Blocks of `rows` with their candidate topics (ascending) and the rows' similarities to those
    topics' centroids. Past CANDIDATE_TOPICS topics, a block is a fine cluster (`groups`: row ->
    cluster) and its candidates the CANDIDATE_TOPICS topics furthest above their floor at the cluster's
    centroid, so a work meets a bounded number of centroids however many topics the corpus has."""
    if len(centroids) <= CANDIDATE_TOPICS:
        every = np.arange(len(centroids))
        for start in range(0, len(rows), SIMILARITY_ROWS):
            yield rows[start : start + SIMILARITY_ROWS], every, matrix[rows[start : start + SIMILARITY_ROWS]] @ centroids.T
        return
    order = rows[np.argsort(groups[rows], kind="stable")]
    parts = np.split(order, np.flatnonzero(np.diff(groups[order])) + 1) if len(order) else []
    members = sparse.csr_matrix((np.ones(len(groups), dtype=np.float32), (groups, np.arange(len(groups)))))
    nearest = _nearest_above_floor(np.asarray(members @ matrix), [int(groups[part[0]]) for part in parts], centroids, floors)
    with threadpool_limits(limits=1, user_api="blas"):  # small products: BLAS threads would spin more than they work
        for part, candidates in zip(parts, nearest):
            yield part, candidates, matrix[part] @ centroids[candidates].T


def _nearest_above_floor(sums: np.ndarray, groups: list[int], centroids: np.ndarray, floors: np.ndarray) -> Iterator[np.ndarray]:
    """For each of `groups` (`sums`: group -> its works' vector sum), the CANDIDATE_TOPICS topics whose
    centroids are furthest above their floors at the group's centroid, ascending."""
    for start in range(0, len(groups), SIMILARITY_ROWS):  # a block of clusters x every topic at a time
        within = sums[groups[start : start + SIMILARITY_ROWS]]
        margins = (within / np.maximum(np.linalg.norm(within, axis=1, keepdims=True), 1e-9)) @ centroids.T - floors.astype(np.float32)
        yield from np.sort(np.argpartition(-margins, CANDIDATE_TOPICS, axis=1)[:, :CANDIDATE_TOPICS], axis=1)


def _topic_centroids(
    works: list[Work], matrix: np.ndarray, topics: dict[str, dict[str, float]], clusters: _Clusters, fine_labels: dict[int, str]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Every topic a work may be given by closeness: named fine clusters and source topics with at
    least MIN_TOPIC_WORKS works, each with its centroid and its floor (the FLOOR_PERCENTILE
    similarity of its own works to that centroid)."""
    members: dict[str, list[int]] = defaultdict(list)
    for row, work in enumerate(works):
        for key in topics[work.id]:
            members[key].append(row)
    for row, cluster in enumerate(clusters.fine):
        if int(cluster) in fine_labels:
            members[fine_labels[int(cluster)]].append(row)
    keys, centroids, floors = [], [], []
    for key, rows in members.items():
        if len(rows) < MIN_TOPIC_WORKS:
            continue
        mean = matrix[rows].sum(axis=0)
        centroid = mean / (np.linalg.norm(mean) or 1.0)
        keys.append(key)
        centroids.append(centroid)
        floors.append(np.percentile(matrix[rows] @ centroid, FLOOR_PERCENTILE))
    dimension = matrix.shape[1]
    return keys, np.array(centroids, dtype=np.float32).reshape(-1, dimension), np.array(floors)


def _coarse_fields(
    works: list[Work], coarse: np.ndarray, fields: dict[str, dict[str, float]], labels: dict[int, str]
) -> dict[int, str]:
    """Coarse cluster -> field key: the source field most of its labelled works share (when they cover
    enough of it), else its own label."""
    votes: dict[int, Counter] = defaultdict(Counter)
    labelled: Counter = Counter()
    sizes = np.bincount(coarse)
    for work, group in zip(works, coarse):
        if fields[work.id]:
            labelled[int(group)] += 1
            votes[int(group)].update(fields[work.id])
    result = dict(labels)
    for group, counter in votes.items():
        field, count = counter.most_common(1)[0]
        covered = labelled[group] >= MIN_FIELD_COVERAGE * sizes[group]
        if covered and count >= max(MIN_FIELD_VOTES, MIN_FIELD_SHARE * labelled[group]):
            result[group] = field
    return result
