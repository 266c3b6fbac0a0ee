"""The `discovery` command, run for real in a subprocess on a scratch data directory."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import FIXTURES

FILES = [FIXTURES / "seed-researcher.openalex.jsonl", FIXTURES / "openalex-old.slice.jsonl.gz", FIXTURES / "arxiv.slice.jsonl"]


def discovery(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "DISCOVERY_DATA_DIR": str(data_dir)}
    result = subprocess.run([sys.executable, "-m", "web.cli", *args], env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli-data")
    report = json.loads(discovery(path, "ingest", *map(str, FILES), "--json").stdout)
    assert report["read"] == report["added"] == 89 and report["rejected"] == 0
    first = json.loads(discovery(path, "index", "--json").stdout)
    assert first["works"] == 89 and first["embedded"] == 89
    return path


def test_reingest_and_reindex_embed_nothing(data_dir):
    again = json.loads(discovery(data_dir, "ingest", *map(str, FILES), "--json").stdout)
    assert (again["added"], again["updated"], again["unchanged"]) == (0, 0, 89)
    second = json.loads(discovery(data_dir, "index", "--json").stdout)
    assert second["embedded"] == 0 and second["reused_vectors"] == 89
    assert second["version"] >= 2


def test_ingest_reports_every_rejected_line(tmp_path):
    result = discovery(tmp_path, "ingest", str(FIXTURES / "malformed.openalex.jsonl"))
    assert "read 7 = added 2 + updated 0 + unchanged 0 + rejected 5" in result.stdout
    assert result.stdout.count("malformed.openalex.jsonl:") == 5


def test_show_researcher_json(data_dir):
    shown = json.loads(discovery(data_dir, "show", "researcher", "Liu Ziyin", "--json").stdout)
    assert shown["name"] == "Liu Ziyin"
    assert {"id", "name", "name_variants", "works", "topics", "close_collaborators", "institutions"} <= set(shown)
    assert len(shown["works"]) == 9 and all({"id", "title", "year"} <= set(w) for w in shown["works"])
    names = {c["name"] for c in shown["close_collaborators"]}
    assert {"Masahito Ueda", "Takashi Mori", "Kangqiao Liu"} <= names
    assert all(c["joint_works"] >= 1 for c in shown["close_collaborators"])


def test_search_people_similar_json(data_dir):
    found = json.loads(discovery(data_dir, "search", "minibatch noise in stochastic gradient descent", "--json").stdout)
    assert found["hits"][0]["title"] == "Strength of Minibatch Noise in SGD"
    assert set(found["hits"][0]["scores"]) >= {"keyword", "vector", "fused"} and "facets" in found
    people = json.loads(discovery(data_dir, "people", "Ziyin Liu", "--json").stdout)
    assert people["hits"][0]["name"] == "Liu Ziyin"
    similar = json.loads(discovery(data_dir, "similar", "Liu Ziyin", "--mode", "collaborators", "--json").stdout)
    coauthors = {"Masahito Ueda", "Takashi Mori", "Kangqiao Liu"}
    assert similar["hits"] and not coauthors & {h["name"] for h in similar["hits"]}
    assert all(h["paper_pairs"] for h in similar["hits"])


def test_errors_are_one_line_without_traceback(data_dir, tmp_path):
    for args in (["ingest", str(tmp_path / "missing.jsonl")], ["show", "researcher", "Nobody Atall Xyzzy"],
                 ["search", "x", "--filter", "year_from=abc"], ["index"]):
        target = tmp_path / "empty" if args == ["index"] else data_dir
        result = discovery(target, *args, check=False)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("discovery: error: ") and result.stderr.count("\n") == 1, result.stderr
