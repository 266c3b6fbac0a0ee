"""One error shape for the whole API, and the matching HTML error page.

Every error answered under `/api` — a bad parameter (ours or FastAPI's validation), an unknown id,
an unknown route, an unavailable engine — is

    {"error": {"status": 422, "message": "page: must be at least 1", "details": [...]}}

`details` lists one `{"location", "message", "type"}` per invalid parameter (empty otherwise).
Pages outside `/api` get the same status and message as an HTML page. A 503 carries `Retry-After`.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from search.interface import BadQuery, EngineUnavailable, NotFound, SearchError

log = logging.getLogger("discovery.web")

RETRY_AFTER_SECONDS = 30
TITLES = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    422: "Invalid parameter",
    500: "Something went wrong",
    503: "Search is unavailable",
}


def error_body(status: int, message: str, details: list[dict] | None = None) -> dict:
    return {"error": {"status": status, "message": message, "details": details or []}}


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path == "/api" or path.startswith("/api/") or path in ("/openapi.json",)


def _hint(status: int) -> str:
    return {
        400: "Check the parameters and try again.",
        404: "The link may be out of date: try searching for it instead.",
        422: "Check the parameters and try again.",
        503: f"The index is not available right now. Try again in {RETRY_AFTER_SECONDS} seconds.",
    }.get(status, "Try again, or start a new search.")


def respond(request: Request, status: int, message: str, details: list[dict] | None = None,
            headers: dict[str, str] | None = None) -> Response:
    if wants_json(request):
        return JSONResponse(error_body(status, message, details), status_code=status, headers=headers)
    from web.render import render

    context = {
        "status": status,
        "title": TITLES.get(status, "Error"),
        "message": message,
        "details": details or [],
        "hint": _hint(status),
    }
    return render(request, "error.html", context, status_code=status, headers=headers)


def _location(loc: Any) -> str:
    parts = [str(p) for p in (loc or ()) if p not in ("query", "path", "body", "header")]
    return ".".join(parts) or "request"


def validation_details(errors: list[dict]) -> list[dict]:
    """FastAPI/pydantic errors reduced to plain, JSON-safe values (no raw input, no exceptions)."""
    out = []
    for err in errors:
        loc = err.get("loc") or ()
        out.append({
            "location": [str(p) for p in loc],
            "parameter": _location(loc),
            "message": str(err.get("msg", "invalid value")),
            "type": str(err.get("type", "value_error")),
        })
    return out


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the one shape (plain `def`: an error page renders
    in the threadpool, off the event loop)."""

    @app.exception_handler(RequestValidationError)
    def on_validation(request: Request, exc: RequestValidationError) -> Response:
        details = validation_details(list(exc.errors()))
        message = "; ".join(f"{d['parameter']}: {d['message']}" for d in details[:3]) or "invalid request"
        return respond(request, 422, message, details)

    @app.exception_handler(SearchError)
    def on_search_error(request: Request, exc: SearchError) -> Response:
        if isinstance(exc, EngineUnavailable):
            log.warning("engine unavailable: %s", exc)
            return respond(request, 503, str(exc) or "the search engine is unavailable",
                           headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        if isinstance(exc, NotFound):
            return respond(request, 404, str(exc) or "not found")
        if isinstance(exc, BadQuery):
            return respond(request, 400, str(exc) or "bad query")
        log.exception("search error", exc_info=exc)
        return respond(request, exc.status if 400 <= exc.status < 600 else 500, str(exc))

    @app.exception_handler(StarletteHTTPException)
    def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "error")
        if exc.status_code == 404 and message == "Not Found":
            message = f"no page at {request.url.path[:200]}"
        return respond(request, exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        return respond(request, 500, "internal error: the failure was logged")
