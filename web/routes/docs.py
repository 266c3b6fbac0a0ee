"""`/docs`: the API reference rendered from the app's own OpenAPI schema, server-side.

FastAPI's Swagger UI loads its scripts from a CDN; this page needs nothing from outside, works
without JavaScript, and lists every `/api` route with its parameters and response model.
The raw schema stays at `/openapi.json`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from web.render import render

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)


def _type(schema: dict) -> str:
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "enum" in schema:
        return " | ".join(repr(v) for v in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type(schema.get('items') or {})}"
    return str(kind)


def _constraints(schema: dict) -> str:
    parts = []
    for s in schema.get("anyOf", [schema]):
        for key, label in (("minimum", "≥"), ("maximum", "≤"), ("minLength", "min length"),
                           ("maxLength", "max length"), ("maxItems", "at most")):
            if key in s:
                parts.append(f"{label} {s[key]}" + (" values" if key == "maxItems" else ""))
    if "default" in schema and schema["default"] not in (None, [], ""):
        parts.append(f"default {schema['default']!r}")
    return ", ".join(parts)


def operations(spec: dict) -> list[dict]:
    out = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            params = [
                {
                    "name": p["name"],
                    "in": p["in"],
                    "required": p.get("required", False),
                    "type": _type(p.get("schema") or {}),
                    "constraints": _constraints(p.get("schema") or {}),
                    "description": p.get("description") or (p.get("schema") or {}).get("description", ""),
                }
                for p in op.get("parameters", [])
            ]
            responses = []
            for status, resp in op.get("responses", {}).items():
                schema = ((resp.get("content") or {}).get("application/json") or {}).get("schema") or {}
                responses.append({"status": status, "description": resp.get("description", ""),
                                  "model": _type(schema) if schema else ""})
            out.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                        "description": op.get("description", ""), "tags": op.get("tags", []),
                        "parameters": params, "responses": responses})
    return out


@router.get("/docs")
def docs_page(request: Request):
    spec = request.app.openapi()
    return render(request, "docs.html", {
        "spec": spec, "operations": operations(spec), "alternate": "/openapi.json", "page_title": "API",
    })
