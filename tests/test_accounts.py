"""Accounts over HTTP on the real app, on SQLite and on PostgreSQL: sign-up, log-in, log-out, no
user enumeration, rate limits, passwords never in clear; every state-changing endpoint refuses
anonymous users, other users and missing CSRF tokens and changes nothing when it refuses; follow
and followers; a pending claim keeps the earned level, admin approval -> L3 and the trust score; withdraw; contested claims;
owner controls; invitations, inbox, accept/decline, rate limit, block; the feed after an ingest."""

from __future__ import annotations

import gzip
import json
import logging
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from models.settings import Settings
from tests.accounts_support import (
    ADMIN,
    ADMIN_TOKEN,
    PASSWORD,
    all_text,
    assert_error,
    find_researcher,
    snapshot,
    users_table,
)
from tests.support import FIXTURES

pytest_plugins = ["tests.web_fixtures", "tests.accounts_fixtures"]

LOGIN_FAILURES = 3
INVITATIONS_PER_DAY = 3


@pytest.fixture(scope="module")
def site(database_url, web_service, tmp_path_factory):
    """The app over the shared fixture index, with its own accounts database and data directory."""
    from tests.web_fixtures import serving
    from web.app import create_app

    settings = Settings(data_dir=tmp_path_factory.mktemp("accounts-site"), engine="embedded", admin_token=ADMIN_TOKEN,
                        database_url=database_url, login_max_failures=LOGIN_FAILURES,
                        invitations_per_day=INVITATIONS_PER_DAY, signups_per_hour=10_000)
    with serving(create_app(settings, web_service)) as url:
        yield url, settings


@pytest.fixture(scope="module")
def researchers(site) -> dict[str, str]:
    """Researcher ids to act on: the seed researcher and a few others from the fixture index, one
    per test that claims, so tests do not step on each other's records."""
    url, _ = site
    with httpx.Client(base_url=url, timeout=60) as http:
        seed = find_researcher(http, "Liu Ziyin")
        people = http.get("/api/search", params={"kind": "people", "q": "stochastic gradient noise", "per_page": 40})
        others = [h["id"] for h in people.json()["hits"] if h["id"] != seed]
    names = ["follow", "approve", "withdraw", "contest", "owner", "invite", "refuse", "extra", "careful"]
    assert len(others) >= len(names), others
    return {"seed": seed, **dict(zip(names, others, strict=False))}


def profile(client, rid: str) -> dict:
    response = client.http.get(f"/api/researchers/{rid}")
    assert response.status_code == 200, response.text
    return response.json()


def claim_row(data: dict) -> dict:
    return next(c for c in data["trust"]["components"] if c["key"] == "claim")


def approve(client, claim_id: int) -> dict:
    response = client.http.post(f"/api/admin/claims/{claim_id}/approve", json={"note": "checked"}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def owner_of(site, clients, rid: str, name: str = "Owner"):
    """A new account whose claim on `rid` an admin approved, open to collaborate."""
    url, _ = site
    owner = clients(url)
    owner.signup(name)
    claim = owner.api("POST", f"/api/researchers/{rid}/claim", {"evidence": "my homepage lists these papers"})
    assert claim.status_code == 201, claim.text
    approve(owner, claim.json()["id"])
    opened = owner.api("PUT", f"/api/researchers/{rid}/owner", {"open_to_collaborate": True})
    assert opened.status_code == 200, opened.text
    return owner


# -- sign-up, log-in, sessions ---------------------------------------------------------------------


def test_signup_login_logout(site, clients):
    url, _ = site
    alice = clients(url)
    user = alice.signup("Alice Example")
    assert set(user) == {"id", "display_name"} and user["display_name"] == "Alice Example"
    me = alice.http.get("/api/me")
    assert me.status_code == 200 and me.json()["user"] == user
    assert alice.email not in me.text

    cookie = alice.http.cookies.get("discovery_session")
    out = alice.api("POST", "/api/auth/logout")
    assert out.status_code == 200
    assert_error(alice.http.get("/api/me"), 401)
    # The old cookie is dead everywhere: logging out ended the session in the database.
    with httpx.Client(base_url=url, cookies={"discovery_session": cookie}) as replay:
        assert_error(replay.get("/api/me"), 401)

    assert alice.login(alice.email).status_code == 200
    assert alice.http.get("/api/me").json()["user"]["id"] == user["id"]
    assert alice.login(alice.email.upper()).status_code == 200  # emails are case-insensitive


def test_browser_forms_sign_up_log_in_and_set_safe_cookies(site, clients):
    url, _ = site
    browser = clients(url)
    page = browser.http.get("/signup")
    assert page.status_code == 200 and 'name="csrf"' in page.text
    token = browser.page_csrf("/signup")
    email = "forms-user@example.org"
    created = browser.http.post("/signup", data={"email": email, "display_name": "Form User", "password": PASSWORD,
                                                 "csrf": token, "next": "/me/following"})
    assert created.status_code == 303 and created.headers["location"].startswith("/me/following")
    cookie = created.headers["set-cookie"].lower()
    assert "discovery_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "Form User" in browser.http.get("/me").text
    assert email not in browser.http.get("/me").text

    logout = browser.form("/logout", csrf=browser.page_csrf("/me"))
    assert logout.status_code == 303
    assert browser.http.get("/me").status_code == 303  # back to the log-in page

    # log-in form: CSRF required; a bad `next` never leaves the site
    assert browser.http.post("/login", data={"email": email, "password": PASSWORD}).status_code == 403
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        done = browser.http.post("/login", data={"email": email, "password": PASSWORD, "next": evil,
                                                 "csrf": browser.page_csrf("/login")})
        assert done.status_code == 303 and done.headers["location"].startswith("/me"), done.headers["location"]


def test_signup_and_login_need_a_csrf_token_too(site, clients):
    url, settings = site
    before = snapshot(settings.database_url)
    client = clients(url)
    body = {"email": "no-csrf@example.org", "display_name": "No Token", "password": PASSWORD}
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        assert_error(client.http.post("/api/auth/signup", json=body, headers=headers), 403)
        login = {"email": body["email"], "password": PASSWORD}
        assert_error(client.http.post("/api/auth/login", json=login, headers=headers), 403)
    # a token from another browser's cookie does not do either
    other = clients(url)
    token = other.anonymous_csrf()
    assert_error(client.http.post("/api/auth/signup", json=body, headers={"X-CSRF-Token": token}), 403)
    form = client.http.post("/signup", data={**body, "csrf": "forged"})
    assert form.status_code == 403
    assert snapshot(settings.database_url) == before
    assert "discovery_session" not in client.http.cookies


def test_unsafe_settings_are_refused():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Settings(secret_key="short")
    with pytest.raises(ValidationError):
        Settings(login_max_failures=0)
    with pytest.raises(ValidationError):
        Settings(admin_token="short-guessable-token")  # under 24 characters


def test_no_user_enumeration(site, clients):
    url, _ = site
    known = clients(url)
    known.signup("Known User")
    stranger = clients(url)
    wrong = stranger.login(known.email, "not the password at all")
    unknown = stranger.login("nobody-" + known.email, "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    # the form says the same for both
    pages = []
    for email in (known.email, "nobody-" + known.email):
        response = stranger.http.post("/login", data={"email": email, "password": "not the password at all",
                                                      "csrf": stranger.page_csrf("/login")})
        assert response.status_code == 401
        pages.append(response.text.split('name="csrf"')[0])
    assert pages[0] == pages[1]


def test_login_rate_limit_is_per_account_and_address_and_tells_nobody_who_exists(site, clients):
    url, _ = site
    victim = clients(url)
    victim.signup("Rate Limited")
    attacker = clients(url)
    for email in (victim.email, "ghost-" + victim.email):
        for _ in range(LOGIN_FAILURES):
            assert attacker.login(email, "wrong password here").status_code == 401
        limited = attacker.login(email, "wrong password here")
        error = assert_error(limited, 429)
        assert int(limited.headers["Retry-After"]) > 0 and "try again" in error["message"]
    # from the attacker's address even the right password waits now, as for the unknown name
    assert attacker.login(victim.email).status_code == 429
    # the owner, from their own address, is not locked out
    assert clients(url, "127.0.0.2").login(victim.email).status_code == 200
    # other accounts are not locked out
    other = clients(url)
    other.signup("Other User")
    assert other.login(other.email).status_code == 200


def test_concurrent_wrong_passwords_get_at_most_the_limit_tried(site, clients):
    """50 wrong passwords at once: each is counted before it is checked, so at most the limit
    are tried (401) and the rest wait (429); the owner still logs in from another address."""
    url, _ = site
    owner = clients(url)
    owner.signup("Concurrently Attacked")
    attacker = clients(url, "127.0.0.3")
    csrf = attacker.anonymous_csrf()

    def guess(n: int) -> int:
        return attacker.http.post("/api/auth/login", json={"email": owner.email, "password": f"wrong guess {n:04d}"},
                                  headers={"X-CSRF-Token": csrf}).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(guess, range(50)))
    assert set(statuses) <= {401, 429}, statuses
    assert 1 <= statuses.count(401) <= LOGIN_FAILURES, statuses
    assert clients(url, "127.0.0.4").login(owner.email).status_code == 200


def test_passwords_are_never_stored_or_logged_in_clear(site, clients, caplog):
    url, settings = site
    secret = "Zebra-Quartz-" + os.urandom(6).hex()
    caplog.set_level(logging.DEBUG)
    user = clients(url)
    user.signup("Careful User", password=secret)
    assert user.login(user.email, secret).status_code == 200
    assert user.login(user.email, secret + "x").status_code == 401
    form = clients(url)
    form.http.post("/login", data={"email": user.email, "password": secret, "csrf": form.page_csrf("/login")})
    short = form.http.post("/signup", data={"email": "short@example.org", "display_name": "Short", "password": "short",
                                            "csrf": form.page_csrf("/signup")})
    assert short.status_code == 422 and "short" not in short.text.split("<main")[1].split("maxlength")[0].lower()

    stored = all_text(settings.database_url)
    assert secret not in stored
    hashes = [h for e, h in users_table(settings.database_url) if e == user.email]
    assert len(hashes) == 1 and hashes[0].startswith("$argon2id$")
    if settings.database_url.startswith("sqlite"):
        # The raw files too, read by another process: closing a file descriptor of the database in
        # this process would drop SQLite's POSIX locks held by the server thread.
        path = settings.database_url.removeprefix("sqlite:///")
        probe = "import sys, os; print(sum(open(f, 'rb').read().count(sys.argv[1].encode()) " \
                "for f in sys.argv[2:] if os.path.exists(f)))"
        found = subprocess.run([sys.executable, "-c", probe, secret, path, path + "-wal"], capture_output=True,
                               text=True, check=True)
        assert found.stdout.strip() == "0"
    assert secret not in caplog.text
    assert user.email not in caplog.text


def test_email_is_never_shown(site, clients, researchers):
    url, _ = site
    owner = owner_of(site, clients, researchers["extra"], "Shown Name")
    guest = clients(url)
    guest.signup("Guest")
    sent = guest.api("POST", f"/api/researchers/{researchers['extra']}/invitations", {"message": "hello"})
    assert sent.status_code == 201, sent.text
    for client in (owner, guest):
        for path in ("/api/me", "/api/me/inbox", f"/api/researchers/{researchers['extra']}", "/me", "/me/inbox",
                     f"/researchers/{researchers['extra']}"):
            body = client.http.get(path).text
            assert owner.email not in body and guest.email not in body, path
    review = owner.http.get("/api/admin/claims", headers=ADMIN).text
    assert owner.email not in review


# -- refusals ----------------------------------------------------------------------------------------


def test_every_state_changing_endpoint_refuses_and_changes_nothing(site, clients, researchers):
    url, settings = site
    rid = researchers["refuse"]
    owner = owner_of(site, clients, rid, "Refusal Owner")
    sender = clients(url)
    sender.signup("Refusal Sender")
    invitation = sender.api("POST", f"/api/researchers/{rid}/invitations", {"message": "work with me?"})
    assert invitation.status_code == 201, invitation.text
    inv = invitation.json()["id"]
    blocked_target = clients(url)
    blocked_target.signup("Blocked Person")
    block_inv = blocked_target.api("POST", f"/api/researchers/{rid}/invitations", {"message": "spam"}).json()["id"]
    assert owner.api("POST", f"/api/invitations/{block_inv}/block").status_code == 200
    work = profile(owner, rid)["works"][0]["id"]
    other = clients(url)
    other.signup("Someone Else")
    pending = other.api("POST", f"/api/researchers/{researchers['seed']}/claim", {"evidence": "me"})
    assert pending.status_code == 201
    blocked_id = blocked_target.user["id"]

    # (method, path, json body, who may do it) -- "any" means any logged-in account
    api = [
        ("POST", f"/api/researchers/{rid}/follow", None, "any"),
        ("DELETE", f"/api/researchers/{rid}/follow", None, "any"),
        ("POST", f"/api/researchers/{rid}/claim", {"evidence": "x"}, "any"),
        ("DELETE", f"/api/researchers/{rid}/claim", None, "owner"),
        ("PUT", f"/api/researchers/{rid}/owner", {"open_to_collaborate": False}, "owner"),
        ("PUT", f"/api/researchers/{rid}/works/{work}", {"excluded": True}, "owner"),
        ("POST", f"/api/researchers/{rid}/works/{work}/not-mine", {"reason": "x"}, "owner"),
        ("POST", f"/api/researchers/{rid}/invitations", {"message": "hi"}, "any"),
        ("POST", f"/api/invitations/{inv}/accept", {"reply": "ok"}, "owner"),
        ("POST", f"/api/invitations/{inv}/decline", None, "owner"),
        ("POST", f"/api/invitations/{inv}/block", None, "owner"),
        ("DELETE", f"/api/me/blocks/{blocked_id}", None, "owner"),
        ("POST", "/api/auth/logout", None, "any"),
    ]
    forms = [
        (f"/researchers/{rid}/follow", {}, "any"),
        (f"/researchers/{rid}/unfollow", {}, "any"),
        (f"/researchers/{rid}/claim", {"evidence": "x"}, "any"),
        (f"/researchers/{rid}/claim/withdraw", {}, "owner"),
        (f"/researchers/{rid}/owner", {"open_to_collaborate": "no"}, "owner"),
        (f"/researchers/{rid}/works/{work}/choice", {"action": "exclude"}, "owner"),
        (f"/researchers/{rid}/works/{work}/not-mine", {"reason": "x"}, "owner"),
        (f"/researchers/{rid}/invite", {"message": "hi"}, "any"),
        (f"/invitations/{inv}/accept", {"reply": "ok"}, "owner"),
        (f"/invitations/{inv}/decline", {}, "owner"),
        (f"/invitations/{inv}/block", {}, "owner"),
        (f"/me/blocks/{blocked_id}/unblock", {}, "owner"),
        ("/logout", {}, "any"),
    ]
    before = snapshot(settings.database_url)
    anonymous = clients(url)
    anonymous.anonymous_csrf()  # even with an anonymous CSRF cookie
    for method, path, body, who in api:
        assert_error(anonymous.api(method, path, body), 401)
        for token in (None, "forged-token", other.csrf):  # missing, wrong, or another session's
            assert_error(owner.api(method, path, body, csrf=token or False), 403)
        if who == "owner":
            refused = other.api(method, path, body)
            assert refused.status_code in (403, 404), (path, refused.text)
            assert_error(refused, refused.status_code)
    for path, body, who in forms:
        assert anonymous.form(path, body, csrf=False).status_code == 401, path
        for token in (None, "forged-token", other.csrf):
            assert owner.form(path, body, csrf=token or False).status_code == 403, path
        if who == "owner":
            assert other.form(path, body).status_code in (403, 404), path
    # the admin review is the admin's alone
    claim_id = pending.json()["id"]
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {owner.csrf}"}):
        assert_error(owner.http.post(f"/api/admin/claims/{claim_id}/approve", json={}, headers=headers), 401)
        assert_error(owner.http.post(f"/api/admin/claims/{claim_id}/reject", json={}, headers=headers), 401)
    assert owner.http.post(f"/admin/claims/{claim_id}/approve", data={"csrf": owner.csrf}).status_code == 401
    assert snapshot(settings.database_url) == before
    # and the owner is still logged in: refused log-outs ended nothing
    assert owner.http.get("/api/me").status_code == 200


# -- follow ------------------------------------------------------------------------------------------


def test_follow_counts_and_following_page(site, clients, researchers):
    url, _ = site
    rid = researchers["follow"]
    first, second = clients(url), clients(url)
    first.signup("First Follower")
    second.signup("Second Follower")
    start = profile(first, rid)["counts"]["followers"]
    assert profile(first, rid)["actions"]["follow"] == {
        "available": True, "active": False, "reason": "Follow to see their new works in your feed."}

    followed = first.form(f"/researchers/{rid}/follow", {})
    assert followed.status_code == 303 and followed.headers["location"].startswith(f"/researchers/{rid}")
    again = first.api("POST", f"/api/researchers/{rid}/follow")
    assert again.json() == {"researcher_id": rid, "following": True, "followers": start + 1}  # idempotent
    assert second.api("POST", f"/api/researchers/{rid}/follow").json()["followers"] == start + 2
    page = first.http.get(f"/researchers/{rid}").text
    assert f'<span class="num followers">{start + 2}</span>' in page and "Following · unfollow" in page

    following = first.http.get("/api/me/following").json()
    assert [r["id"] for r in following["researchers"]] == [rid]
    assert following["researchers"][0]["latest_works"]
    html = first.http.get("/me/following").text
    assert f'data-id="{rid}"' in html and following["researchers"][0]["latest_works"][0]["title"] in html

    assert second.api("DELETE", f"/api/researchers/{rid}/follow").json()["followers"] == start + 1
    assert first.form(f"/researchers/{rid}/unfollow", {}).status_code == 303
    assert profile(first, rid)["counts"]["followers"] == start
    assert_error(first.api("POST", "/api/researchers/r-does-not-exist/follow"), 404)


# -- claims and verification -------------------------------------------------------------------------


def test_a_pending_claim_keeps_the_earned_level_and_approval_gives_l3(site, clients, researchers):
    url, _ = site
    rid = researchers["approve"]
    before = profile(clients(url), rid)["trust"]
    assert before["claim_status"] == "unclaimed" and before["level"] in ("L0", "L1")

    user = clients(url)
    user.signup("Claimant")
    made = user.api("POST", f"/api/researchers/{rid}/claim", {"evidence": "My homepage lists these papers.",
                                                              "orcid": "0000-0002-1825-0097"})
    assert made.status_code == 201, made.text
    claim = made.json()
    assert claim["status"] == "pending" and not claim["contested"]
    claimed = profile(user, rid)
    t = claimed["trust"]
    assert (t["claim_status"], t["level"], t["score"]) == ("claimed", before["level"], before["score"])
    assert f"Claim #{claim['id']}" in claim_row(claimed)["evidence"]
    assert claimed["viewer"]["claim"]["id"] == claim["id"] and claimed["actions"]["claim"]["withdraw"]
    html = user.http.get(f"/researchers/{rid}").text
    assert "Claim pending" in html and f"Verification {before['level']}" in html and "Verification L2" not in html
    assert_error(user.api("POST", f"/api/researchers/{rid}/claim", {"evidence": "again"}), 409)

    review = user.http.get("/api/admin/claims", headers=ADMIN).json()
    listed = next(c for c in review["claims"] if c["id"] == claim["id"])
    assert listed["evidence"] == "My homepage lists these papers." and listed["claimant"]["display_name"] == "Claimant"
    assert listed["stated_orcid"] == "0000-0002-1825-0097"

    approve(user, claim["id"])
    approved = profile(user, rid)
    t = approved["trust"]
    assert (t["claim_status"], t["level"]) == ("approved", "L3")
    assert t["score"] == before["score"] + 20 == sum(c["points"] for c in t["components"])
    row = claim_row(approved)
    assert row["points"] == 20 and f"Claim #{claim['id']}" in row["evidence"]
    assert "approved by an admin" in row["evidence"]
    assert approved["viewer"]["is_owner"]
    html = user.http.get(f"/researchers/{rid}").text
    assert "Verification L3" in html and f"Claim #{claim['id']}" in html
    assert approve_again(user, claim["id"]).status_code == 409
    audit = user.http.get("/api/admin/status", headers=ADMIN).json()["audit"]
    assert any(e["action"] == "claim-approve" and e["outcome"] == "ok" for e in audit)
    me = user.http.get("/api/me").json()
    assert me["owned"] == [rid]


def test_trust_is_shown_carefully_around_claims(site, clients, researchers):
    """The admin sees the record's own facts beside the evidence and other accounts with the
    claimant's name; once approved, others get "report a problem", not "claim this profile"; the
    owner cannot follow their own record."""
    url, _ = site
    rid = researchers["careful"]
    record = profile(clients(url), rid)
    real, impostor, visitor = clients(url), clients(url), clients(url)
    real.signup("Same Name Person")
    impostor.signup("same name  person")  # looks identical on the page
    visitor.signup("A Visitor")
    claim = real.api("POST", f"/api/researchers/{rid}/claim", {"evidence": "I wrote these."}).json()
    fake = impostor.api("POST", f"/api/researchers/{rid}/claim", {"evidence": "Me too."}).json()

    review = {c["id"]: c for c in real.http.get("/api/admin/claims", headers=ADMIN).json()["claims"]}
    listed = review[claim["id"]]
    assert [u["id"] for u in listed["same_name_accounts"]] == [impostor.user["id"]]
    assert [u["id"] for u in review[fake["id"]]["same_name_accounts"]] == [real.user["id"]]
    shown = listed["record"]
    assert shown["name"] == record["name"] and shown["identifiers"] == record["identifiers"]
    assert [a["id"] for a in shown["co_authors"]] == [c["id"] for c in record["close_collaborators"]][:len(shown["co_authors"])]
    assert shown["affiliations"] == [i["name"] for i in record["institutions"]]
    with httpx.Client(base_url=url, timeout=60) as browser:
        assert browser.post("/admin/login", data={"token": ADMIN_TOKEN}).status_code == 303
        page = browser.get("/admin/claims").text
    assert "Other accounts share this display name" in page and "The record says" in page

    approve(real, claim["id"])
    for client in (visitor, clients(url)):  # signed in, and anonymous
        data = profile(client, rid)
        assert data["actions"]["claim"]["report"] and not data["actions"]["claim"]["available"]
        html = client.http.get(f"/researchers/{rid}").text
        assert "Claim this profile" not in html and "Report a problem" in html
    reported = visitor.form(f"/researchers/{rid}/claim", {"evidence": "This record mixes two people."},
                            csrf=visitor.page_csrf(f"/researchers/{rid}/claim"))
    assert reported.status_code == 303
    assert any(c["researcher_id"] == rid for c in visitor.http.get("/api/admin/claims", headers=ADMIN).json()["claims"])

    owned = profile(real, rid)
    assert not owned["actions"]["follow"]["available"] and "your own record" in owned["actions"]["follow"]["reason"]
    assert_error(real.api("POST", f"/api/researchers/{rid}/follow"), 400)
    assert "Follow researcher" not in real.http.get(f"/researchers/{rid}").text
    assert profile(real, rid)["counts"]["followers"] == 0


def approve_again(client, claim_id):
    return client.http.post(f"/api/admin/claims/{claim_id}/approve", json={}, headers=ADMIN)


def test_withdraw_a_pending_and_an_approved_claim(site, clients, researchers):
    url, _ = site
    rid = researchers["withdraw"]
    user = clients(url)
    user.signup("Withdrawer")
    claim = user.api("POST", f"/api/researchers/{rid}/claim", {"evidence": "mine"}).json()
    withdrawn = user.api("DELETE", f"/api/researchers/{rid}/claim")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert profile(user, rid)["trust"]["claim_status"] == "unclaimed"
    assert not any(c["id"] == claim["id"] for c in user.http.get("/api/admin/claims", headers=ADMIN).json()["claims"])
    assert_error(user.api("DELETE", f"/api/researchers/{rid}/claim"), 404)

    owner = owner_of(site, clients, rid, "Owner Then Not")
    work = profile(owner, rid)["works"][-1]["id"]
    assert owner.api("PUT", f"/api/researchers/{rid}/works/{work}", {"pinned": True}).status_code == 200
    assert profile(owner, rid)["open_to_collaborate"] is True
    assert owner.form(f"/researchers/{rid}/claim/withdraw", {}).status_code == 303
    after = profile(owner, rid)
    assert after["trust"]["claim_status"] == "unclaimed" and after["open_to_collaborate"] is None
    assert not any(w["pinned"] for w in after["works"])  # the owner's choices left with them


def test_contested_claims_go_to_the_admin_and_one_account_owns_a_record(site, clients, researchers):
    url, _ = site
    rid = researchers["contest"]
    a, b, c = clients(url), clients(url), clients(url)
    for client, name in ((a, "Contender A"), (b, "Contender B"), (c, "Contender C")):
        client.signup(name)
    claim_a = a.api("POST", f"/api/researchers/{rid}/claim", {"evidence": "A's evidence"}).json()
    claim_b = b.api("POST", f"/api/researchers/{rid}/claim", {"evidence": "B's evidence"}).json()
    assert claim_b["contested"]
    data = profile(a, rid)
    assert data["trust"]["claim_status"] == "contested" and data["trust"]["level"] in ("L0", "L1")
    assert f"#{claim_a['id']}" in claim_row(data)["evidence"] and f"#{claim_b['id']}" in claim_row(data)["evidence"]

    review = a.http.get("/api/admin/claims", headers=ADMIN).json()["claims"]
    listed = {x["id"]: x for x in review if x["researcher_id"] == rid}
    assert set(listed) == {claim_a["id"], claim_b["id"]}
    assert listed[claim_a["id"]]["contested"] and listed[claim_a["id"]]["competing"] == [claim_b["id"]]
    assert listed[claim_b["id"]]["evidence"] == "B's evidence"

    approve(a, claim_b["id"])
    mine = {x["id"]: x for x in a.http.get("/api/me").json()["claims"]}
    assert mine[claim_a["id"]]["status"] == "rejected"
    assert profile(a, rid)["trust"]["claim_status"] == "approved"

    # A third account contests the owned record: it goes to the admin, the owner keeps it meanwhile.
    claim_c = c.api("POST", f"/api/researchers/{rid}/claim", {"evidence": "C's evidence"}).json()
    assert claim_c["contested"] and profile(c, rid)["trust"]["level"] == "L3"
    review = {x["id"]: x for x in c.http.get("/api/admin/claims", headers=ADMIN).json()["claims"]}
    assert review[claim_c["id"]]["competing"] == [claim_b["id"]]
    approve(c, claim_c["id"])  # one account per record: the previous owner's claim is revoked
    statuses = {x["id"]: x["status"] for x in b.http.get("/api/me").json()["claims"]}
    assert statuses[claim_b["id"]] == "revoked"
    after = profile(c, rid)
    assert after["viewer"]["is_owner"] and not profile(b, rid)["viewer"]["is_owner"]
    rejected = a.http.post(f"/api/admin/claims/{claim_a['id']}/reject", json={}, headers=ADMIN)
    assert_error(rejected, 409)


def test_admin_review_page_lists_claims_with_evidence_and_approves_with_csrf(site, clients, researchers):
    url, _ = site
    user = clients(url)
    user.signup("Page Claimant")
    rid = researchers["seed"]
    claim = user.api("POST", f"/api/researchers/{rid}/claim", {"evidence": "I <b>wrote</b> these"}).json()
    admin = clients(url)
    assert admin.http.get("/admin/claims").status_code == 303  # not logged in as admin
    assert admin.http.post("/admin/login", data={"token": ADMIN_TOKEN}).status_code == 303
    page = admin.http.get("/admin/claims")
    assert page.status_code == 200 and f'data-id="{claim["id"]}"' in page.text
    assert "I &lt;b&gt;wrote&lt;/b&gt; these" in page.text and "Page Claimant" in page.text
    assert admin.http.post(f"/admin/claims/{claim['id']}/reject", data={}).status_code == 403  # no CSRF
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    assert admin.http.post(f"/admin/claims/{claim['id']}/reject", data={"csrf": token, "note": "no"}).status_code == 303
    mine = {c["id"]: c for c in user.http.get("/api/me").json()["claims"]}
    assert mine[claim["id"]]["status"] == "rejected" and mine[claim["id"]]["decision_note"] == "no"


# -- owner controls ----------------------------------------------------------------------------------


def test_owner_controls_and_not_mine_flags(site, clients, researchers):
    url, _ = site
    rid = researchers["owner"]
    owner = owner_of(site, clients, rid, "Control Owner")
    works = [w["id"] for w in profile(owner, rid)["works"]]
    last = works[-1]
    pinned = owner.api("PUT", f"/api/researchers/{rid}/works/{last}", {"pinned": True})
    assert pinned.json() == {"researcher_id": rid, "work_id": last, "pinned": True, "excluded": False}
    data = profile(owner, rid)
    assert data["works"][0]["id"] == last and data["works"][0]["pinned"]
    assert owner.api("PUT", f"/api/researchers/{rid}/works/{works[0]}", {"excluded": True}).status_code == 200
    assert next(w for w in profile(owner, rid)["works"] if w["id"] == works[0])["excluded_from_expertise"]
    assert_error(owner.api("PUT", f"/api/researchers/{rid}/works/{works[0]}", {}), 422)
    assert_error(owner.api("PUT", f"/api/researchers/{rid}/works/W-not-on-record", {"pinned": True}), 404)

    manage = owner.http.get(f"/researchers/{rid}/manage")
    assert manage.status_code == 200 and "Excluded from expertise" in manage.text
    twin = owner.http.get(f"/api/researchers/{rid}/owner").json()
    assert {w["id"] for w in twin["works"]} == set(works)
    assert next(w for w in twin["works"] if w["id"] == works[0])["excluded"]

    flag = owner.api("POST", f"/api/researchers/{rid}/works/{works[-1]}/not-mine", {"reason": "another person"})
    assert flag.status_code == 201, flag.text
    assert_error(owner.api("POST", f"/api/researchers/{rid}/works/{works[-1]}/not-mine", {}), 409)
    flags = owner.http.get("/api/admin/claims", headers=ADMIN).json()["flags"]
    listed = next(f for f in flags if f["id"] == flag.json()["id"])
    assert listed["reason"] == "another person" and listed["flagged_by"]["display_name"] == "Control Owner"
    resolved = owner.http.post(f"/api/admin/flags/{listed['id']}/resolve", json={"status": "dismissed"}, headers=ADMIN)
    assert resolved.status_code == 200 and resolved.json()["status"] == "dismissed"

    closed = owner.form(f"/researchers/{rid}/owner", {"open_to_collaborate": "no"})
    assert closed.status_code == 303
    assert profile(owner, rid)["open_to_collaborate"] is False
    outsider = clients(url)
    outsider.signup("Not The Owner")
    assert_error(outsider.api("PUT", f"/api/researchers/{rid}/owner", {"open_to_collaborate": True}), 403)
    assert outsider.http.get(f"/researchers/{rid}/manage").status_code == 403


# -- invitations -------------------------------------------------------------------------------------


def test_invitations_inbox_accept_decline_rate_limit_and_block(site, clients, researchers):
    url, _ = site
    rid = researchers["invite"]
    sender = clients(url)
    sender.signup("Inviting Person")
    assert_error(sender.api("POST", f"/api/researchers/{rid}/invitations", {"message": "hi"}), 409)  # unclaimed
    owner = owner_of(site, clients, rid, "Invited Owner")
    assert owner.api("PUT", f"/api/researchers/{rid}/owner", {"open_to_collaborate": False}).status_code == 200
    assert_error(sender.api("POST", f"/api/researchers/{rid}/invitations", {"message": "hi"}), 409)  # not open
    assert owner.api("PUT", f"/api/researchers/{rid}/owner", {"open_to_collaborate": True}).status_code == 200
    assert_error(owner.api("POST", f"/api/researchers/{rid}/invitations", {"message": "me"}), 400)
    assert_error(sender.api("POST", f"/api/researchers/{rid}/invitations", {"message": "   "}), 422)

    first = sender.api("POST", f"/api/researchers/{rid}/invitations", {"message": "Shall we write about SGD?"})
    assert first.status_code == 201, first.text
    assert_error(sender.api("POST", f"/api/researchers/{rid}/invitations", {"message": "again"}), 409)
    inbox = owner.http.get("/api/me/inbox").json()
    got = inbox["received"][0]
    assert got["sender"] == sender.user and got["message"] == "Shall we write about SGD?" and got["status"] == "pending"
    page = owner.http.get("/me/inbox").text
    assert "Shall we write about SGD?" in page and "Inviting Person" in page

    assert_error(sender.api("POST", f"/api/invitations/{got['id']}/accept", {}), 404)  # not the recipient
    accepted = owner.api("POST", f"/api/invitations/{got['id']}/accept", {"reply": "Yes! Write to me via my homepage."})
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert_error(owner.api("POST", f"/api/invitations/{got['id']}/decline"), 409)
    sent = sender.http.get("/api/me/inbox").json()["sent"][0]
    assert sent["status"] == "accepted" and sent["reply"] == "Yes! Write to me via my homepage."

    second = sender.api("POST", f"/api/researchers/{rid}/invitations", {"message": "A second idea"}).json()
    declined = owner.form(f"/invitations/{second['id']}/decline", {})
    assert declined.status_code == 303
    assert sender.http.get("/api/me/inbox").json()["sent"][0]["status"] == "declined"

    third = sender.api("POST", f"/api/researchers/{rid}/invitations", {"message": "A third idea"})
    assert third.status_code == 201
    limited = sender.api("POST", f"/api/researchers/{researchers['extra']}/invitations", {"message": "more"})
    assert_error(limited, 429)
    assert int(limited.headers["Retry-After"]) > 0

    blocked = owner.api("POST", f"/api/invitations/{third.json()['id']}/block")
    assert blocked.status_code == 200 and blocked.json()["blocked"] == sender.user
    assert owner.http.get("/api/me/inbox").json()["received"][0]["status"] == "declined"
    assert owner.http.get("/api/me/inbox").json()["blocked"] == [sender.user]

    spammer = clients(url)
    spammer.signup("Spammer")
    spam = spammer.api("POST", f"/api/researchers/{rid}/invitations", {"message": "buy"}).json()
    assert owner.form(f"/invitations/{spam['id']}/block", {}).status_code == 303
    refused = spammer.api("POST", f"/api/researchers/{rid}/invitations", {"message": "buy again"})
    assert_error(refused, 403)
    assert not profile(spammer, rid)["actions"]["invite"]["available"]
    assert owner.api("DELETE", f"/api/me/blocks/{spammer.user['id']}").json()["active"] is False
    assert spammer.api("POST", f"/api/researchers/{rid}/invitations", {"message": "sorry"}).status_code == 201


# -- twins ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("page,api,key", [("/me/following", "/api/me/following", "researchers"),
                                          ("/me/feed", "/api/me/feed", "works"),
                                          ("/me/inbox", "/api/me/inbox", "received")])
def test_account_pages_link_their_json_twins(site, clients, researchers, page, api, key):
    url, _ = site
    user = clients(url)
    user.signup("Twin User")
    user.api("POST", f"/api/researchers/{researchers['seed']}/follow")
    html = user.http.get(page)
    assert html.status_code == 200
    assert f'<link rel="alternate" type="application/json" href="{api}">' in html.text
    data = user.http.get(api).json()
    for item in data[key]:
        assert f'data-id="{item["id"]}"' in html.text
    anonymous = clients(url)
    assert anonymous.http.get(page).status_code == 303 and anonymous.http.get(api).status_code == 401


def test_migrations_match_the_models(site):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    from models.accounts import current_revision
    from models.accounts.tables import Base

    _, settings = site
    engine = create_engine(settings.database_url)
    try:
        assert current_revision(engine) == "0001"
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}),
                                    Base.metadata) == []
    finally:
        engine.dispose()


# -- the feed after an ingest ----------------------------------------------------------------------------

NEW_WORK = {
    "id": "https://openalex.org/W9900000001",
    "title": "Noise Shapes the Stationary Distribution of Stochastic Gradient Descent",
    "display_name": "Noise Shapes the Stationary Distribution of Stochastic Gradient Descent",
    "publication_year": 2025, "type": "preprint",
    "primary_location": {"source": {"display_name": "arXiv", "type": "repository"}},
    "authorships": [
        {"author_position": "first", "author": {"id": None, "display_name": "Liu Ziyin", "orcid": None},
         "institutions": [], "raw_author_name": "Liu Ziyin"},
        {"author_position": "last", "author": {"id": None, "display_name": "Masahito Ueda", "orcid": None},
         "institutions": [], "raw_author_name": "Masahito Ueda"},
    ],
    "is_authors_truncated": False,
    "abstract_inverted_index": {w: [i] for i, w in enumerate(
        "We study the minibatch noise of stochastic gradient descent and its stationary distribution".split())},
    "cited_by_count": 0,
}


def cli(settings: Settings, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "web.cli", *args], env={**os.environ, **settings.as_environment()},
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_new_works_by_followed_researchers_reach_the_feed_after_an_ingest(database_url, tmp_path, clients):
    from tests.web_fixtures import serving
    from web.app import create_app

    settings = Settings(data_dir=tmp_path / "data", engine="embedded", admin_token=ADMIN_TOKEN,
                        database_url=database_url)
    cli(settings, "ingest", str(FIXTURES / "seed-researcher.openalex.jsonl"))
    cli(settings, "index", "--json")
    with serving(create_app(settings)) as url:
        reader = clients(url)
        reader.signup("Feed Reader")
        rid = find_researcher(reader.http, "Liu Ziyin")
        before = profile(reader, rid)["counts"]["works"]
        assert reader.api("POST", f"/api/researchers/{rid}/follow").status_code == 200
        assert reader.http.get("/api/me/feed").json() == {"works": []}

        new = tmp_path / "new.openalex.jsonl.gz"
        with gzip.open(new, "wt") as out:
            out.write(json.dumps(NEW_WORK) + "\n")
        cli(settings, "ingest", str(new))
        assert reader.http.get("/api/me/feed").json() == {"works": []}  # ingested, not indexed yet
        cli(settings, "reindex")
        assert profile(reader, rid)["counts"]["works"] == before + 1
        feed = reader.http.get("/api/me/feed").json()["works"]
        assert [w["title"] for w in feed] == [NEW_WORK["title"]]
        assert feed[0]["researcher"] == {"id": rid, "name": "Liu Ziyin"}
        page = reader.http.get("/me/feed").text
        assert NEW_WORK["title"] in page
        following = reader.http.get("/api/me/following").json()["researchers"][0]
        assert following["latest_works"][0]["title"] == NEW_WORK["title"]
