"""Accounts in headless Chromium (Debian's `chromium`, driven by Playwright; never a browser
download), three people in three browser contexts on the real app:

a researcher signs up, follows Liu Ziyin and sees the followers count go up, claims the profile
and sees "Claim pending" beside the level it had; the admin approves the claim and the profile shows L3 with the
trust score up and the breakdown naming the claim; the owner says "open to collaborate"; another
user sends an invitation; the owner accepts it. No request leaves the app; no JavaScript error."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from models.settings import Settings
from tests.accounts_support import ADMIN_TOKEN, PASSWORD

from tests.support import CHROMIUM, SCREENSHOTS, guarded_page

pytest_plugins = ["tests.web_fixtures"]

SCREENSHOT = Path(os.environ.get("DISCOVERY_ACCOUNTS_SCREENSHOT", "/tmp/accounts-profile.png"))

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no chromium: apt-get install chromium")]


@pytest.fixture(scope="module")
def site(web_service, tmp_path_factory):
    """The app over the fixture index with a fresh accounts database (SQLite in its data dir)."""
    from tests.web_fixtures import serving
    from web.app import create_app

    settings = Settings(data_dir=tmp_path_factory.mktemp("accounts-browser"), engine="embedded",
                        admin_token=ADMIN_TOKEN)
    with serving(create_app(settings, web_service)) as url:
        yield url


@pytest.fixture
def person(browser, site):
    """`person()` -> a page in a new browser context (its own cookies), guarded against requests
    outside the app and JavaScript errors."""
    outside: list[str] = []
    errors: list[str] = []
    contexts = []

    def new():
        context, page = guarded_page(browser, site, outside, errors, allow_401=True)
        contexts.append(context)
        return page

    yield new
    for context in contexts:
        context.close()
    assert outside == [], f"requests outside the app: {outside}"
    assert errors == [], f"JavaScript errors: {errors}"


def sign_up(page, site: str, name: str, email: str) -> None:
    page.goto(site + "/signup")
    page.fill("input[name=email]", email)
    page.fill("input[name=display_name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/me?done=welcome")
    assert name in page.locator("h1").inner_text()
    assert email not in page.content()


def open_profile(page, site: str) -> None:
    page.goto(site + "/search?kind=people&q=Liu+Ziyin")
    page.locator("li.hit.person h3 a").first.click()
    page.wait_for_selector("h1:text('Liu Ziyin')")


def score(page) -> int:
    return int(page.locator("#trust .trust-score .num").inner_text())


def test_follow_claim_approve_open_invite_accept(person, site):
    owner = person()
    sign_up(owner, site, "Liu Ziyin", "liu@example.org")
    open_profile(owner, site)
    profile_url = owner.url
    followers = int(owner.locator("#actions .followers").inner_text())
    owner.click("#actions button.follow")
    owner.wait_for_url("**done=followed")
    assert int(owner.locator("#actions .followers").inner_text()) == followers + 1
    assert int(owner.locator("#trust .counts li", has_text="followers").locator(".num").inner_text()) == followers + 1
    assert "Following" in owner.locator("#actions button.follow").inner_text()

    # Claim: "Claim pending" beside the earned level, which a pending claim does not raise.
    before = score(owner)
    owner.click("#actions a.claim")
    owner.wait_for_url("**/claim")
    owner.fill("textarea[name=evidence]", "My homepage lists all nine papers; I was at the University of Tokyo.")
    owner.click("form.stack button[type=submit]")
    owner.wait_for_url("**done=claimed")
    assert "Claim pending" in owner.locator(".profile-head .claim-badge").inner_text()
    assert "Verification L2" not in owner.locator("#trust").inner_text()
    assert score(owner) == before

    # The admin approves it from the admin area's review page.
    admin = person()
    admin.goto(site + "/admin/login")
    admin.fill("#token", ADMIN_TOKEN)
    admin.click("form[action='/admin/login'] button[type=submit]")
    admin.wait_for_url("**/admin")
    admin.click("a[href='/admin/claims']")
    claim = admin.locator("li.review-claim").filter(has_text="Liu Ziyin")
    assert "My homepage lists all nine papers" in claim.inner_text()
    nav = admin.locator("header.site nav").inner_text()
    assert "Admin session" in nav and "Log out of admin" in nav and "Log in" not in nav
    admin.screenshot(path=str(SCREENSHOTS / "desktop-admin-claims.png"), full_page=True)
    claim_id = claim.get_attribute("data-id")
    claim.locator("button.approve").click()
    admin.wait_for_url("**/admin/claims")
    assert admin.locator(f"li.review-claim[data-id='{claim_id}']").count() == 0

    # L3, the score up by the claim's 20 points, the breakdown naming the claim.
    owner.goto(profile_url)
    trust = owner.locator("#trust").inner_text()
    assert "Verification L3" in trust
    assert score(owner) == before + 20
    row = owner.locator("#trust tr[data-component=claim]").inner_text()
    assert f"Claim #{claim_id}" in row and "approved by an admin" in row and "20" in row
    assert "approved by an admin" in owner.locator(".profile-head .claim-badge").inner_text()

    # The owner is open to collaborate.
    owner.click("#actions button.open-yes")
    owner.wait_for_url("**done=saved")
    assert "Open to collaborate" in owner.locator(".profile-head .badges").inner_text()
    owner.screenshot(path=str(SCREENSHOT), full_page=True)

    # Someone else invites them.
    guest = person()
    sign_up(guest, site, "Curious Colleague", "colleague@example.org")
    guest.goto(profile_url)
    guest.click("#actions a.invite")
    guest.wait_for_url("**/invite")
    guest.fill("textarea[name=message]", "Would you like to work on minibatch noise together?")
    guest.click("form.stack button[type=submit]")
    guest.wait_for_url("**/me/inbox?done=invited")
    assert "pending" in guest.locator("#sent li.invitation").first.inner_text()

    # The owner accepts it from the inbox.
    owner.goto(site + "/me/inbox")
    invitation = owner.locator("#received li.invitation").first
    text = invitation.inner_text()
    assert "Curious Colleague" in text and "minibatch noise together" in text
    assert "colleague@example.org" not in owner.content()
    invitation.locator("textarea[name=reply]").fill("Gladly: my homepage has my contact details.")
    invitation.locator("button.accept").click()
    owner.wait_for_url("**/me/inbox?done=accepted")
    assert owner.locator("#received li.invitation").first.get_attribute("data-status") == "accepted"

    guest.goto(site + "/me/inbox")
    sent = guest.locator("#sent li.invitation").first
    assert sent.get_attribute("data-status") == "accepted"
    assert "Gladly" in sent.inner_text()
    assert "liu@example.org" not in guest.content()
    assert re.search(r"Log out", guest.locator("header.site").inner_text())
