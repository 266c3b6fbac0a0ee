"""Sources: both OpenAlex shapes, arXiv's author strings and categories, and bad lines reported, not fatal."""

import gzip
import json
from pathlib import Path

import pytest

from indexer.sources import SourceError, detect_format, read_records
from indexer.sources.arxiv import parse_authors, year_from_id
from indexer.sources.openalex import author_identifiers, rebuild_abstract

FIXTURES = Path(__file__).parent / "fixtures"


def works_of(path, fmt=None):
    return [p.work for p in read_records(path, fmt) if p.work]


def test_formats_are_detected_per_file():
    assert detect_format(FIXTURES / "seed-researcher.openalex.jsonl") == "openalex"
    assert detect_format(FIXTURES / "openalex-old.slice.jsonl.gz") == "openalex"
    assert detect_format(FIXTURES / "arxiv.slice.jsonl") == "arxiv"


def test_current_openalex_shape():
    works = {w.title: w for w in works_of(FIXTURES / "seed-researcher.openalex.jsonl")}
    work = works["Strength of Minibatch Noise in SGD"]
    assert work.year == 2022 and work.type == "preprint" and work.venue.name == "arXiv"
    assert work.abstract.startswith("The noise in stochastic gradient descent (SGD), caused by minibatch sampling")
    assert [a.name for a in work.authorships] == ["Liu Ziyin", "Kangqiao Liu", "Takashi Mori", "Masahito Ueda"]
    assert works["Power Laws and Symmetries in a Minimal Model of Financial Market Economy"].authors_truncated


def test_older_openalex_shape_has_venue_concepts_and_ids():
    works = works_of(FIXTURES / "openalex-old.slice.jsonl.gz")
    assert works and all(w.id.startswith("W") for w in works)
    assert all(w.venue for w in works if w.venue)
    assert any(w.source_topics for w in works)
    assert any(a.orcid for w in works for a in w.authorships)
    assert any(a.openalex_id for w in works for a in w.authorships)
    assert any(a.institutions for w in works for a in w.authorships)


def test_abstract_is_rebuilt_from_inverted_index():
    assert rebuild_abstract({"world": [1], "Hello": [0], "again": [3], "hello": [2]}) == "Hello world hello again"
    assert rebuild_abstract(None) is None


def test_author_identifiers_in_any_url_form():
    assert author_identifiers("https://orcid.org/0000-0002-0337-668x") == {"orcid": "0000-0002-0337-668X"}
    assert author_identifiers(None, "https://openalex.org/A1904937971") == {"openalex": "A1904937971"}
    assert author_identifiers("https://openreview.net/profile?id=~Ziyin_Liu1") == {"openreview": "~Ziyin_Liu1"}
    assert author_identifiers("https://dblp.org/pid/123/4567") == {"dblp": "123/4567"}


@pytest.mark.parametrize(
    "authors, expected",
    [
        ("Salman Habib and Robert D. Ryne", [("Salman Habib", []), ("Robert D. Ryne", [])]),
        ("R.B.Palmer, Y.Torun (BNL), D.Winn (Fairfield Univ.)",
         [("R.B.Palmer", ["BNL"]), ("Y.Torun", ["BNL"]), ("D.Winn", ["Fairfield Univ."])]),
        ("A. S. Mishchenko (1 and 2) and N. Nagaosa (1 and 3) ((1) CREST, (2) Kurchatov Institute, (3) The University of Tokyo)",
         [("A. S. Mishchenko", ["CREST", "Kurchatov Institute"]), ("N. Nagaosa", ["CREST", "The University of Tokyo"])]),
        ('Peter Brommer and Franz G\\"ahler (Universit\\"at Stuttgart)',
         [("Peter Brommer", ["Universität Stuttgart"]), ("Franz Gähler", ["Universität Stuttgart"])]),
    ],
)
def test_arxiv_author_strings(authors, expected):
    assert parse_authors(authors) == expected


def test_arxiv_records_get_year_readable_topics_and_latex():
    works = works_of(FIXTURES / "arxiv.slice.jsonl")
    assert works and all(w.type == "preprint" and w.year for w in works)
    labels = {label for w in works for label in w.source_topics}
    assert labels and not any("." in label and " " not in label for label in labels)  # no raw codes like math.AG
    assert year_from_id("acc-phys/9411001") == 1994 and year_from_id("0704.0001") == 2007


def test_malformed_lines_are_reported_with_line_and_reason(tmp_path):
    parsed = list(read_records(FIXTURES / "malformed.openalex.jsonl"))
    rejected = {p.line: p.reason for p in parsed if p.work is None}
    assert [p.line for p in parsed if p.work] == [1, 8]
    assert set(rejected) == {2, 4, 5, 6, 7}  # line 3 is blank: not a record
    assert "invalid JSON" in rejected[2]
    assert "expected a JSON object" in rejected[4]
    assert "missing title" in rejected[5]
    assert "publication_year" in rejected[6]
    assert "authorship" in rejected[7]


def test_truncated_gzip_reports_instead_of_crashing(tmp_path):
    data = gzip.compress(b"".join(json.dumps({"id": f"x{i}", "title": "t", "authors": "A B", "categories": "cs.LG"}).encode() + b"\n" for i in range(200)))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    parsed = list(read_records(path, "arxiv"))
    assert parsed[-1].work is None and "unreadable" in parsed[-1].reason
    assert any(p.work for p in parsed)


def test_unreadable_files_are_one_clear_error(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        list(read_records(tmp_path / "missing.jsonl"))
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(SourceError, match="--format"):
        detect_format(tmp_path / "empty.jsonl")
