"""One index version per request: a search makes several engine calls, and a version switch between
two of them must not mix answers (a total from one version, hits from another).

Inside `one_version()` each engine resolves its live version at its first read and keeps reading that
version until the block ends; outside it every call reads whatever is live, as before. The pins live
in a context variable, so they follow a request into the threadpool that runs its blocking calls.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator, TypeVar

V = TypeVar("V")

_pins: ContextVar[dict[int, object] | None] = ContextVar("discovery_index_pins", default=None)


@contextmanager
def one_version() -> Iterator[None]:
    """Every engine read inside this block sees the version that engine was on at its first read."""
    token = _pins.set({})
    try:
        yield
    finally:
        _pins.reset(token)


def pinned(engine: object, resolve: Callable[[], V]) -> V | None:
    """`engine`'s pinned version (resolved once per block); None outside `one_version()`."""
    pins = _pins.get()
    if pins is None:
        return None
    key = id(engine)
    if key not in pins:
        pins[key] = resolve()
    return pins[key]  # type: ignore[return-value]


class OneVersionPerRequest:
    """ASGI middleware: each HTTP request runs inside `one_version()`."""

    def __init__(self, app) -> None:  # noqa: ANN001 - any ASGI app
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 - the ASGI signature
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with one_version():
            await self.app(scope, receive, send)
