"""The admin area: ingest and reindex as background jobs, watched while they run, safe to interrupt.

Access: the admin token (`DISCOVERY_ADMIN_TOKEN`, else generated once into `<data dir>/admin-token`).
Browsers log in with it and get a signed, HttpOnly, SameSite=Strict session cookie; every form
carries a CSRF token bound to that session. API clients send `Authorization: Bearer <token>`.
Anything without valid credentials gets 401 (or 403 for a bad CSRF token) and changes nothing.
Every token presented (log-in form or bearer header) is counted per client address before it is
checked (`models.accounts.rate_limit`); past `DISCOVERY_ADMIN_MAX_FAILURES` wrong ones in the log-in
window the answer is 429 with `Retry-After`.
Every admin action lands in the audit log: who, what, when, and the outcome.
"""


import hmac
import secrets
import uuid
from dataclasses import asdict, dataclass
from datetime import timedelta
from hashlib import sha256
from pathlib import Path
from typing import Annotated, Any, Callable, Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as FormFile

from indexer.catalog import Catalog
from indexer.jobs import Job, JobConflict, JobStore
from models.accounts.auth import too_many
from models.accounts.rate_limit import Limit, RateLimited, release, take
from models.settings import Settings
from web.api_models import ErrorBody

API_ERRORS: dict[int | str, dict] = {
    status: {"model": ErrorBody, "description": text} for status, text in (
        (400, "Bad request (e.g. a path outside the import folder, an empty upload)."),
        (401, "No valid admin token: send Authorization: Bearer <admin token>."),
        (404, "Unknown job or file."),
        (409, "A reindex or rollback is already running."),
        (413, "Upload larger than DISCOVERY_MAX_UPLOAD_MB."),
        (422, "A parameter failed validation."),
        (429, "Too many wrong admin tokens from this address; see Retry-After."),
    )
}
SESSION_COOKIE = "discovery_admin"
# declares the scheme in OpenAPI (`/docs` shows it); a missing or non-Bearer header is our 401, not FastAPI's 403
BEARER = HTTPBearer(scheme_name="adminToken", description="The admin token (DISCOVERY_ADMIN_TOKEN).", auto_error=False)
JobId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="A job id.")]
SESSION_SECONDS = 8 * 3600
CHUNK = 1 << 20


class AdminError(Exception):
    def __init__(self, status: int, message: str, **extra):
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


@dataclass
class AdminAccess:
    """The admin area's credential checks, for routes defined elsewhere (e.g. the claim review in
    `web.routes.claims`): the same token, session cookie, CSRF token and audit log."""

    api_actor: Callable[..., Any]  # dependency: `Authorization: Bearer <token>` -> actor
    browser_actor: Callable[..., Any]  # dependency: session cookie + form CSRF token -> actor
    session_of: Callable[[Request], str | None]  # the admin session id from the cookie, or None
    csrf_for: Callable[[str], str]  # the CSRF token of an admin session
    audit: Callable[[str, str, dict, str], None]  # (actor, action, detail, outcome) into the audit log


def admin_token(settings: Settings) -> tuple[str, bool]:
    """(token, newly generated). A generated token is kept in the data directory, readable by us only."""
    if settings.admin_token:
        return settings.admin_token, False
    path = settings.data_dir / "admin-token"
    if path.exists():
        return path.read_text().strip(), False
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(token + "\n")
    return token, True


class AdminAuth:
    """Checks credentials; the signing key derives from the token, so changing the token logs everyone out."""

    def __init__(self, token: str):
        self.token = token
        self.signer = URLSafeTimedSerializer(sha256(b"discovery-admin-session:" + token.encode()).hexdigest())

    def token_ok(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(candidate.encode(), self.token.encode())

    def new_session(self) -> str:
        return self.signer.dumps({"sid": secrets.token_urlsafe(16)})

    def session(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            return self.signer.loads(cookie, max_age=SESSION_SECONDS)["sid"]
        except (BadSignature, KeyError, TypeError):
            return None

    def csrf_for(self, sid: str) -> str:
        return hmac.new(self.token.encode(), b"csrf:" + sid.encode(), sha256).hexdigest()

    def csrf_ok(self, sid: str, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(self.csrf_for(sid), candidate)


class IngestPath(BaseModel):
    path: str = Field(description="A file inside the server's import folder (DISCOVERY_IMPORT_DIR), relative to it.")
    format: Literal["openalex", "arxiv"] | None = None


class ReindexRequest(BaseModel):
    full: bool = Field(False, description="Embed every work again instead of reusing cached vectors.")


class RollbackRequest(BaseModel):
    confirm: bool = Field(False, description="Must be true: the previous version goes live for every search at once.")


def confirmed(confirm: bool) -> None:
    """A rollback is asked for on purpose, whatever the client: the page's checkbox is not enough."""
    if not confirm:
        raise AdminError(400, 'a rollback must be confirmed: send {"confirm": true} (the form: tick "Yes, roll back")')


def safe_import_path(settings: Settings, name: str) -> Path:
    """Refuse anything that resolves outside the import folder (`../`, absolute paths, symlinks out),
    and names the file system cannot hold (a NUL byte, a name too long): 400, not a crash."""
    root = settings.imports_path.resolve()
    shown = repr(name[:100]) + ("..." if len(name) > 100 else "")
    if "\x00" in name:
        raise AdminError(400, f"{shown} contains a NUL byte; name a file inside {root}")
    try:
        candidate = (root / name).resolve()
        if not candidate.is_relative_to(root) or candidate == root:
            raise AdminError(400, f"{shown} is outside the import folder; name a file inside {root}")
        if not candidate.is_file():
            raise AdminError(404, f"no file {shown} in the import folder {root}")
    except OSError as exc:  # e.g. ENAMETOOLONG: a path component longer than 255 bytes
        raise AdminError(400, f"{shown} is not a usable file name ({exc.strerror or type(exc).__name__})") from None
    return candidate


def save_upload(settings: Settings, upload: FormFile) -> Path:
    """Copy to disk in chunks with a size limit (the form parser spooled it already); a partial file
    is removed. Blocking: call it from a thread."""
    limit = settings.max_upload_mb * (1 << 20)
    uploads = settings.data_dir / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    suffix = "".join(Path(upload.filename or "upload.jsonl").suffixes[-2:]) or ".jsonl"
    target = uploads / f"{uuid.uuid4().hex}{suffix if all(c.isalnum() or c == '.' for c in suffix) else '.jsonl'}"
    size = 0
    try:
        with open(target, "wb") as out:
            while chunk := upload.file.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise AdminError(413, f"upload larger than {settings.max_upload_mb} MB (DISCOVERY_MAX_UPLOAD_MB)")
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if size == 0:
        target.unlink(missing_ok=True)
        raise AdminError(400, "the uploaded file is empty")
    return target


def job_dict(job: Job) -> dict:
    return asdict(job)


def announce_admin_token(settings: Settings) -> None:
    """At server start: make sure a token exists, and print it the one time it is generated."""
    token, generated = admin_token(settings)
    if generated:
        print(f"Admin token (shown once; kept in {settings.data_dir / 'admin-token'}): {token}", flush=True)


def admin_router(settings: Settings, templates: Jinja2Templates) -> APIRouter:
    router = APIRouter()
    auths: list[AdminAuth] = []

    def get_auth() -> AdminAuth:
        if not auths:  # lazily, so building an app (tests, OpenAPI export) writes nothing
            auths.append(AdminAuth(admin_token(settings)[0]))
        return auths[0]

    def jobs() -> tuple[Catalog, JobStore]:
        catalog = Catalog(settings.catalog_path)
        return catalog, JobStore(catalog, settings.data_dir)

    def start(kind: str, argv: list[str], actor: str, detail: dict) -> Job:
        catalog, store = jobs()
        try:
            try:
                job = store.create(kind, {"argv": argv, **detail}, actor)
            except JobConflict as conflict:
                store.audit(actor, kind, detail, f"refused: job {conflict.job_id} running")
                raise AdminError(409, str(conflict), job_id=conflict.job_id) from None
            store.launch(job, settings.as_environment())
            store.audit(actor, kind, detail, f"started job {job.id}")
            return job
        finally:
            catalog.close()

    # -- who is asking ---------------------------------------------------------------------
    def token_ok(request: Request, candidate: str) -> bool:
        """Is `candidate` the admin token? The guess is counted before it is checked, and
        un-counted when right, so only wrong tokens use up an address's allowance."""
        accounts = request.app.state.accounts
        address = request.client.host if request.client else "?"
        limit = Limit("admin-ip", accounts.mac("admin-ip", address), settings.admin_max_failures,
                      timedelta(minutes=settings.login_window_minutes))
        with accounts.db.session() as db:
            try:
                attempt = take(db, limit)
            except RateLimited as exc:
                raise too_many(exc.retry_after, "wrong admin tokens from this address") from None
            ok = get_auth().token_ok(candidate)
            if ok:
                release(db, attempt)
        return ok

    def api_actor(request: Request, bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> str:
        if bearer is None or not bearer.credentials.strip() or not token_ok(request, bearer.credentials.strip()):
            raise AdminError(401, "admin API: send Authorization: Bearer <admin token>")
        return f"api@{request.client.host if request.client else '?'}"

    def browser_session(request: Request) -> str:
        sid = get_auth().session(request.cookies.get(SESSION_COOKIE))
        if not sid:
            raise AdminError(401, "log in to the admin area first")
        return sid

    async def browser_actor(request: Request, sid: Annotated[str, Depends(browser_session)]) -> str:
        form = await request.form()
        if not get_auth().csrf_ok(sid, form.get("csrf") if isinstance(form.get("csrf"), str) else None):
            raise AdminError(403, "missing or invalid CSRF token: reload the admin page and try again")
        return f"browser@{request.client.host if request.client else '?'}"

    def one_job(job_id: int) -> Job:
        catalog, store = jobs()
        try:
            job = store.get(job_id)
        finally:
            catalog.close()
        if job is None:
            raise AdminError(404, f"no job {job_id}")
        return job

    def status_data() -> dict:
        from indexer.status import status

        data = status(settings)
        catalog, store = jobs()
        try:
            data["audit"] = store.audit_entries(20)
        finally:
            catalog.close()
        return data

    # -- JSON API --------------------------------------------------------------------------
    @router.get("/api/admin/status", tags=["admin"], responses=API_ERRORS,
                summary="Live index, index lag, running and recent jobs")
    def api_status(actor: Annotated[str, Depends(api_actor)]) -> dict:
        return status_data()

    @router.get("/api/admin/jobs/{job_id}", tags=["admin"], responses=API_ERRORS,
                summary="One job: progress, result, rejected records")
    def api_job(job_id: JobId, actor: Annotated[str, Depends(api_actor)]) -> dict:
        return job_dict(one_job(job_id))

    @router.post("/api/admin/ingest", tags=["admin"], responses=API_ERRORS,
                status_code=202, summary="Ingest a file from the import folder")
    def api_ingest_path(body: IngestPath, actor: Annotated[str, Depends(api_actor)]) -> dict:
        path = safe_import_path(settings, body.path)
        argv = [str(path), *(["--format", body.format] if body.format else [])]
        return job_dict(start("ingest", argv, actor, {"path": body.path}))

    @router.post("/api/admin/upload", tags=["admin"], responses=API_ERRORS,
                status_code=202, summary="Upload a file and ingest it")
    def api_upload(actor: Annotated[str, Depends(api_actor)], file: UploadFile = File(...)) -> dict:
        path = save_upload(settings, file)
        return job_dict(start("ingest", [str(path)], actor, {"upload": file.filename}))

    @router.post("/api/admin/reindex", tags=["admin"], responses=API_ERRORS,
                status_code=202, summary="Build and switch to a new index version")
    def api_reindex(body: ReindexRequest, actor: Annotated[str, Depends(api_actor)]) -> dict:
        return job_dict(start("reindex", ["--full"] if body.full else [], actor, {"full": body.full}))

    @router.post("/api/admin/rollback", tags=["admin"], responses=API_ERRORS,
                status_code=202, summary="Make the previous version live")
    def api_rollback(actor: Annotated[str, Depends(api_actor)], body: RollbackRequest | None = None) -> dict:
        confirmed(body is not None and body.confirm)
        return job_dict(start("rollback", [], actor, {}))

    # -- browser ---------------------------------------------------------------------------
    @router.get("/admin/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request, error: str | None = None):
        return templates.TemplateResponse(request, "admin_login.html", {"error": error}, status_code=401 if error else 200)

    @router.post("/admin/login", include_in_schema=False)
    def login(request: Request, token: Annotated[str, Form()] = ""):
        catalog, store = jobs()
        try:
            if not token_ok(request, token):
                store.audit(f"browser@{request.client.host if request.client else '?'}", "login", {}, "refused")
                return templates.TemplateResponse(request, "admin_login.html", {"error": "That token is not valid."}, status_code=401)
            store.audit(f"browser@{request.client.host if request.client else '?'}", "login", {}, "ok")
        finally:
            catalog.close()
        response = RedirectResponse("/admin", status_code=303)
        response.set_cookie(SESSION_COOKIE, get_auth().new_session(), max_age=SESSION_SECONDS, httponly=True,
                            samesite="strict", secure=request.url.scheme == "https", path="/")
        return response

    @router.post("/admin/logout", include_in_schema=False)
    def logout(actor: Annotated[str, Depends(browser_actor)]):
        response = RedirectResponse("/admin/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/admin", response_class=HTMLResponse, include_in_schema=False)
    def admin_page(request: Request, message: str | None = None):
        sid = get_auth().session(request.cookies.get(SESSION_COOKIE))
        if not sid:
            return RedirectResponse("/admin/login", status_code=303)
        data = status_data()
        return templates.TemplateResponse(request, "admin.html", {
            "status": data, "csrf": get_auth().csrf_for(sid), "message": message,
            "import_dir": settings.imports_path, "max_upload_mb": settings.max_upload_mb,
        })

    @router.get("/admin/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
    def job_page(request: Request, job_id: JobId, sid: Annotated[str, Depends(browser_session)]):
        return templates.TemplateResponse(request, "admin_job.html",
                                          {"job": one_job(job_id), "csrf": get_auth().csrf_for(sid)})

    def done(job: Job) -> RedirectResponse:
        return RedirectResponse(f"/admin/jobs/{job.id}", status_code=303)

    def ingest_form(upload: object, path: object, actor: str) -> Job:
        # the form parser yields Starlette's UploadFile (FastAPI's is a subclass it never makes)
        if isinstance(upload, FormFile) and upload.filename:
            saved = save_upload(settings, upload)
            return start("ingest", [str(saved)], actor, {"upload": upload.filename})
        if isinstance(path, str) and path.strip():
            return start("ingest", [str(safe_import_path(settings, path.strip()))], actor, {"path": path.strip()})
        raise AdminError(400, "choose a file to upload or name one in the import folder")

    @router.post("/admin/ingest", include_in_schema=False)
    async def form_ingest(request: Request, actor: Annotated[str, Depends(browser_actor)]):
        form = await request.form()
        return done(await run_in_threadpool(ingest_form, form.get("file"), form.get("path"), actor))

    @router.post("/admin/reindex", include_in_schema=False)
    async def form_reindex(request: Request, actor: Annotated[str, Depends(browser_actor)]):
        full = (await request.form()).get("full") == "on"
        return done(await run_in_threadpool(start, "reindex", ["--full"] if full else [], actor, {"full": full}))

    @router.post("/admin/rollback", include_in_schema=False)
    def form_rollback(actor: Annotated[str, Depends(browser_actor)], confirm: Annotated[str, Form()] = ""):
        confirmed(bool(confirm))
        return done(start("rollback", [], actor, {}))

    def audit(actor: str, action: str, detail: dict, outcome: str) -> None:
        catalog, store = jobs()
        try:
            store.audit(actor, action, detail, outcome)
        finally:
            catalog.close()

    router.access = AdminAccess(  # type: ignore[attr-defined]
        api_actor=api_actor, browser_actor=browser_actor,
        session_of=lambda request: get_auth().session(request.cookies.get(SESSION_COOKIE)),
        csrf_for=lambda sid: get_auth().csrf_for(sid), audit=audit)
    return router
