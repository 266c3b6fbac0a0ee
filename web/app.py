"""The web app: `create_app(settings)` builds it; nothing is created at import time.

Flow of a request: a route in `web.routes` validates its parameters (FastAPI), its handler asks the
`Discovery` service in the threadpool and shapes the answer (`web.shapes`), then the page route
renders it with a template (`web.render`) or the `/api` route returns it as JSON. Errors of every
kind become one shape (`web.errors`).

The lifespan opens the engine and loads the embedding model once per process (before the first
request, so no query waits for it) and closes the engine on shutdown. Tests pass a ready `service`.
It also migrates the accounts database (`models.accounts`: follows, claims, invitations) before the
first request, whichever way the engine came. Every router is included below, by name: importing a
route module registers nothing.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from models.embedding import ModelUnavailable
from models.settings import Settings
from search.interface import SearchError
from search.pin import OneVersionPerRequest
from search.service import Discovery
from models.accounts.auth import AccountError, Accounts
from web import errors
from web.render import STATIC, make_templates
from web.routes import accounts, browse, citations, claims, docs, expertise, explorer, follows, invitations, site
from web.routes.admin import AdminError, admin_router, announce_admin_token

log = logging.getLogger("discovery.web")

SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
     b"img-src 'self' data:; font-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
     b"frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """ASGI middleware adding `SECURITY_HEADERS` to every response: only this site's own scripts
    run, no site may frame ours (clickjacking), browsers do not guess content types."""

    def __init__(self, app):  # noqa: ANN001
        self.app = app

    async def __call__(self, scope, receive, send):  # noqa: ANN001
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):  # noqa: ANN001
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)

DESCRIPTION = """\
Search works, researchers and topics; researcher profiles with a trust snapshot, research graph,
similar researchers and new collaborators.

Every page has a JSON twin here under `/api` (same handler, same ids). Every error is
`{"error": {"status", "message", "details"}}`; a 503 carries `Retry-After`.
"""


def create_app(settings: Settings, service: Discovery | None = None) -> FastAPI:
    """The app over `service`, or over the engine and embedder the settings name (opened in the lifespan)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(app.state.accounts.start)  # migrations, before the first request
        try:
            async with _engine(app):
                yield
        finally:
            app.state.accounts.close()

    @asynccontextmanager
    async def _engine(app: FastAPI) -> AsyncIterator[None]:
        if service is not None:
            yield
            return
        from search.engines import open_engine

        announce_admin_token(settings)
        engine = None
        try:
            engine = open_engine(settings)
            app.state.service = Discovery(engine, settings.embedder())
        except SearchError as exc:  # e.g. OpenSearch unreachable: serve 503s with a reason, not a crash
            log.error("engine unavailable: %s", exc)
            app.state.unavailable = str(exc)
        else:
            try:  # the model loads now, not in the first semantic query (35-46 s on a cold instance)
                await run_in_threadpool(app.state.service.embedder.warm_up)
            except ModelUnavailable as exc:  # keyword search still works; semantic queries will say why
                log.error("%s", exc)
        try:
            yield
        finally:
            app.state.service = None
            if engine is not None:
                engine.close()

    app = FastAPI(
        title="Discovery",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # web.routes.docs serves /docs without a CDN
        redoc_url=None,
        openapi_tags=[
            {"name": "search", "description": "Works, people and topics."},
            {"name": "researchers", "description": "Profiles, research graph, suggestions."},
            {"name": "topics"},
            {"name": "works"},
            {"name": "status"},
            {"name": "accounts", "description": "Sign up, log in, log out, your account. State-changing requests "
             "need the session cookie and its CSRF token in `X-CSRF-Token`."},
            {"name": "follow", "description": "Follow researchers; the following list; the feed of their new works."},
            {"name": "claims", "description": "Claim a researcher record (shown as a pending claim); an admin approves it (L3)."},
            {"name": "owner", "description": "The owner of a claimed record: open to collaborate, pinned and "
             "excluded works, \"not mine\" flags."},
            {"name": "invitations", "description": "Invite a claimed, open-to-collaborate researcher; inbox, "
             "accept, decline, block."},
            {"name": "admin", "description": "Ingest, reindex, rollback, status, claim review. Bearer token required."},
        ],
    )
    app.state.settings = settings
    app.state.service = service
    app.state.unavailable = None
    app.state.templates = make_templates()
    app.state.accounts = Accounts(settings)  # opens nothing until start-up or first use
    accounts.install_template_globals(app.state.templates)
    errors.install(app)
    app.add_middleware(OneVersionPerRequest)  # each request reads one index version (search.pin)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(citations.router)
    for module in (explorer, browse, accounts, follows, claims, invitations, expertise):
        app.include_router(module.router)
        app.include_router(module.pages)
    app.include_router(site.pages)
    app.include_router(docs.router)
    admin = admin_router(settings, app.state.templates)
    app.include_router(admin)
    app.include_router(claims.review_router(admin.access))

    @app.exception_handler(AdminError)
    def on_admin_error(request, exc: AdminError):
        return errors.respond(request, exc.status, exc.message)

    @app.exception_handler(AccountError)
    def on_account_error(request, exc: AccountError):
        return errors.respond(request, exc.status, exc.message, headers=exc.headers)

    return app
