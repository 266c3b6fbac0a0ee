"""Owner controls survive the indexer: a data directory built with the CLI from a small fixture
corpus, the app over it, the owner of a claimed record excludes works from their expertise, and
`discovery reindex` (then `reindex --full`) rebuild the researcher vector and topics without them.
On SQLite and on PostgreSQL: the indexer reads the choices from the accounts database."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from models.settings import Settings
from tests.accounts_support import ADMIN, ADMIN_TOKEN, find_researcher
from tests.support import FIXTURES

pytest_plugins = ["tests.accounts_fixtures"]

CORPUS = ("seed-researcher.openalex.jsonl", "arxiv.slice.jsonl", "openalex-old.slice.jsonl.gz")


def cli(settings: Settings, *args: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "web.cli", *args, "--json"],
                            env={**os.environ, **settings.as_environment()}, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """The corpus ingested and indexed by the CLI once; each database's run starts from a copy."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("owner-controls-template") / "data", engine="embedded")
    cli(settings, "ingest", *(str(FIXTURES / name) for name in CORPUS))
    cli(settings, "index")
    return settings.data_dir


@pytest.fixture(scope="module")
def built(template, database_url, tmp_path_factory):
    """A copy of the template data directory with its own accounts database, and the app serving it."""
    from tests.web_fixtures import serving
    from web.app import create_app

    data_dir = tmp_path_factory.mktemp("owner-controls") / "data"
    shutil.copytree(template, data_dir)
    settings = Settings(data_dir=data_dir, engine="embedded", admin_token=ADMIN_TOKEN, database_url=database_url)
    with serving(create_app(settings)) as url:
        yield settings, url


def similar(client, rid: str) -> list[tuple[str, float]]:
    response = client.http.get(f"/api/researchers/{rid}/similar", params={"limit": 10})
    assert response.status_code == 200, response.text
    return [(h["id"], h["similarity"]) for h in response.json()["hits"]]


def profile(client, rid: str) -> dict:
    response = client.http.get(f"/api/researchers/{rid}")
    assert response.status_code == 200, response.text
    return response.json()


def owner_of_seed(clients, url: str, display_name: str):
    """A new account whose claim on Liu Ziyin's record the admin approved: (client, researcher id)."""
    owner = clients(url)
    owner.signup(display_name)
    rid = find_researcher(owner.http, "Liu Ziyin")
    claim = owner.api("POST", f"/api/researchers/{rid}/claim", {"evidence": "these are my papers"})
    assert claim.status_code == 201, claim.text
    approved = owner.http.post(f"/api/admin/claims/{claim.json()['id']}/approve", json={}, headers=ADMIN)
    assert approved.status_code == 200, approved.text
    return owner, rid


def test_excluded_works_leave_the_researcher_vector_and_survive_a_full_rebuild(built, clients):
    settings, url = built
    owner, rid = owner_of_seed(clients, url, "Liu Ziyin (owner)")

    before = similar(owner, rid)
    assert len(before) >= 3, before
    data = profile(owner, rid)
    topics_before = {t["id"]: t["count"] for t in data["topics"]}
    # Exclude every work written with the closest collaborator (similar researchers are never
    # co-authors, so the vector is what moves them): the rest must still say who they are.
    partner = data["close_collaborators"][0]["id"]
    shared = [w["id"] for w in data["works"] if any(a["id"] == partner for a in w["authors"])]
    kept = [w["id"] for w in data["works"] if w["id"] not in shared]
    assert shared and kept, (shared, kept)
    for wid in shared:
        done = owner.api("PUT", f"/api/researchers/{rid}/works/{wid}", {"excluded": True})
        assert done.status_code == 200, done.text
    # Choices take effect when the index is rebuilt, not before.
    assert similar(owner, rid) == before

    report = cli(settings, "reindex")
    assert report["excluded_works"] == len(shared) and report["embedded"] == 0
    after = similar(owner, rid)
    assert after != before
    data = profile(owner, rid)
    assert data["counts"]["works"] == len(shared) + len(kept)  # excluded works stay on the record
    assert {w["id"] for w in data["works"] if w["excluded_from_expertise"]} == set(shared)
    topics_after = {t["id"]: t["count"] for t in data["topics"]}
    assert sum(topics_after.values()) < sum(topics_before.values())

    full = cli(settings, "reindex", "--full")
    assert full["embedded"] == full["works"] and full["excluded_works"] == len(shared)
    rebuilt = similar(owner, rid)
    assert [r for r, _ in rebuilt] == [r for r, _ in after]
    assert all(abs(a - b) < 1e-3 for (_, a), (_, b) in zip(rebuilt, after, strict=True))
    assert {t["id"]: t["count"] for t in profile(owner, rid)["topics"]} == topics_after

    # Counting the works again restores the original profile at the next build.
    for wid in shared:
        assert owner.api("PUT", f"/api/researchers/{rid}/works/{wid}", {"excluded": False}).status_code == 200
    cli(settings, "reindex")
    restored = similar(owner, rid)
    assert [r for r, _ in restored] == [r for r, _ in before]


def test_pinned_works_count_more_in_expertise_at_once(built, clients):
    """"Who knows about this?" reads the owner's pins from the accounts database on every request."""
    from search.service import PIN_FACTOR

    _, url = built
    owner, rid = owner_of_seed(clients, url, "Liu Ziyin (pins)")
    work = profile(owner, rid)["works"][0]

    def matched() -> tuple[float, dict]:
        found = owner.http.get("/api/expertise", params={"text": work["title"], "researcher": rid})
        assert found.status_code == 200, found.text
        hit = found.json()["hits"][0]
        return hit["fit"], next(m for m in hit["works"] if m["id"] == work["id"])

    fit_before, before = matched()
    assert owner.api("PUT", f"/api/researchers/{rid}/works/{work['id']}", {"pinned": True}).status_code == 200
    fit_after, after = matched()
    assert after["similarity"] == before["similarity"]
    assert after["weight"] == pytest.approx(before["weight"] * PIN_FACTOR, abs=2e-4)
    assert fit_after > fit_before, "the pinned work, closest to its own title, pulls the researcher's vector nearer"


def test_what_the_indexer_reads(database_url):
    """`expertise_exclusions`: excluded works and open or accepted "not mine" flags; not pinned
    works, not dismissed flags; an empty answer for a database that does not exist yet.
    `pinned_works`: the pinned works only."""
    from models.accounts import AccountsDB, expertise_exclusions, pinned_works
    from models.accounts.tables import User, WorkChoice, WorkFlag

    assert expertise_exclusions("sqlite:////nonexistent/dir/accounts.sqlite") == {}
    assert pinned_works("sqlite:////nonexistent/dir/accounts.sqlite") == {}
    if database_url.startswith("sqlite"):
        assert expertise_exclusions(database_url) == {}  # the file does not exist yet
    db = AccountsDB(database_url)
    try:
        db.migrate()
        ours = ("r-1", "r-2")  # the module's database also holds the other tests' choices for the seed

        def only_ours(found: dict) -> dict:
            return {rid: works for rid, works in found.items() if rid in ours}

        assert only_ours(expertise_exclusions(database_url)) == {}
        with db.session() as s:
            user = User(public_id="u-000000000001", email="a@example.org", display_name="A", password_hash="x")
            s.add(user)
            s.flush()
            s.add_all([
                WorkChoice(researcher_id="r-1", work_id="W1", pinned=False, excluded=True, set_by=user.id),
                WorkChoice(researcher_id="r-1", work_id="W2", pinned=True, excluded=False, set_by=user.id),
                WorkFlag(researcher_id="r-1", work_id="W3", user_id=user.id, reason="", status="open"),
                WorkFlag(researcher_id="r-2", work_id="W4", user_id=user.id, reason="", status="accepted"),
                WorkFlag(researcher_id="r-2", work_id="W5", user_id=user.id, reason="", status="dismissed"),
            ])
            s.commit()
        assert only_ours(expertise_exclusions(database_url)) == {"r-1": frozenset({"W1", "W3"}), "r-2": frozenset({"W4"})}
        assert only_ours(pinned_works(database_url)) == {"r-1": frozenset({"W2"})}
    finally:
        db.close()


def test_build_docs_leaves_excluded_works_out_of_vector_and_topics():
    """The aggregate itself, without a database: same works, fewer counted."""
    import numpy as np

    from indexer import aggregates
    from indexer.identity import Link, Member, Resolution
    from models.records import Authorship, TopicRef, Work

    works = [Work(id=f"W{i}", source="openalex", source_id=f"W{i}", title=f"t{i}", year=2020 + i,
                  authorships=[Authorship(position=0, name="Ada Lovelace")]) for i in range(3)]
    vectors = {f"W{i}": np.eye(3, dtype=np.float32)[i] for i in range(3)}
    topics = {f"W{i}": [TopicRef(f"t-{i}", f"topic {i}")] for i in range(3)}
    members = [Member(key=f"W{i}#0", work_id=f"W{i}", name="Ada Lovelace", identifiers={}) for i in range(3)]
    resolution = Resolution(members={"r-ada": members},
                            links={m.key: Link("r-ada", "name", 1.0) for m in members})
    (plain,) = aggregates.build_docs(works, resolution, topics, {}, vectors).researchers()
    (chosen,) = aggregates.build_docs(works, resolution, topics, {}, vectors, {"r-ada": {"W2"}}).researchers()
    assert plain.work_ids == chosen.work_ids and plain.works_count == chosen.works_count == 3
    assert {t.id for t in plain.topics} == {"t-0", "t-1", "t-2"}
    assert {t.id for t in chosen.topics} == {"t-0", "t-1"}
    assert abs(chosen.vector[2]) < 1e-6 and abs(plain.vector[2]) > 0.1
