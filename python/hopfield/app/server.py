"""The app's web server: one static page and the JSON endpoints of :mod:`hopfield.app.api`.

A small ASGI application (Starlette) served by uvicorn. It binds to
127.0.0.1 unless told otherwise. Input is untrusted: a body larger than
:data:`~hopfield.app.payload.MAX_BODY_BYTES` is refused (413) before it is
read whole, a body that takes longer than :data:`BODY_TIMEOUT_S` to arrive is
refused (408), malformed JSON gets 400 and a value out of its range 422, each
with a message. The computing runs in worker threads (the engine releases
the GIL), off the event loop, and every request is capped in size, so one
tab's request cannot stall another's.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import webbrowser
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import api
from . import payload as pl

__all__ = ["BODY_TIMEOUT_S", "DEFAULT_PORT", "STATIC", "bind", "create_app", "running", "serve"]

#: The page, its script and its style sheet, shipped inside the package.
STATIC = Path(__file__).parent / "static"
#: Default port of ``hopfield app``.
DEFAULT_PORT = 8765
#: A request body must arrive within this many seconds.
BODY_TIMEOUT_S = 10.0
#: Host names a loopback server answers (guards against DNS rebinding).
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
#: The page loads nothing from elsewhere: no CDN, works offline.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

ENDPOINTS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "memories": api.memories,
    "corrupt": api.corrupt_state,
    "update": api.update,
    "beta": api.beta_panel,
    "landscape": api.landscape,
    "trajectory": api.trajectory,
}


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _read_body(request: Request) -> bytes:
    """The body, refused (413) past the cap and (408) when it arrives too slowly."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise pl.BadRequest("Content-Length must be a number of bytes", 400)
        if int(declared) > pl.MAX_BODY_BYTES:
            raise pl.BadRequest(
                f"the request body is {int(declared):,} bytes; the most is {pl.MAX_BODY_BYTES:,}",
                413,
            )
    chunks, total = [], 0
    try:
        with anyio.fail_after(BODY_TIMEOUT_S):
            async for chunk in request.stream():
                total += len(chunk)
                if total > pl.MAX_BODY_BYTES:
                    raise pl.BadRequest(
                        f"the request body exceeds {pl.MAX_BODY_BYTES:,} bytes", 413
                    )
                chunks.append(chunk)
    except TimeoutError:
        raise pl.BadRequest(
            f"the request body did not arrive within {BODY_TIMEOUT_S:g} s", 408
        ) from None
    return b"".join(chunks)


def _endpoint(func: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[..., Any]:
    async def handle(request: Request) -> Response:
        try:
            data = pl.parse_json(await _read_body(request))
            # in a worker thread: the event loop keeps serving other tabs
            result = await anyio.to_thread.run_sync(func, data)
        except pl.BadRequest as exc:
            return _error(exc.message, exc.status)
        except (ValueError, TypeError) as exc:  # the library refused a value (names it)
            return _error(str(exc), 422)
        except MemoryError as exc:
            return _error(f"too large: {exc}", 413)
        return JSONResponse(result)

    handle.__doc__ = func.__doc__
    return handle


async def _page(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)


async def _info(request: Request) -> Response:
    return JSONResponse(api.info())


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(exc.detail, exc.status_code)


def create_app(*, allowed_hosts: list[str] | None = None) -> Starlette:
    """The ASGI application.

    Parameters
    ----------
    allowed_hosts : list of str, optional
        Host names the server answers (others get 400), e.g. the loopback
        names for a server on 127.0.0.1. ``None`` answers any.

    Returns
    -------
    starlette.applications.Starlette
    """
    routes = [
        Route("/", _page),
        Route("/api/info", _info),
        *(Route(f"/api/{name}", _endpoint(f), methods=["POST"]) for name, f in ENDPOINTS.items()),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = []
    if allowed_hosts is not None:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts))
    return Starlette(
        routes=routes, middleware=middleware, exception_handlers={HTTPException: _http_error}
    )


def _is_loopback(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def bind(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> socket.socket:
    """A listening socket on ``host:port`` (``port`` 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _server(host: str, port: int) -> tuple[Any, socket.socket, str, bool]:
    """A uvicorn server for the app, its bound socket, the page's URL and
    whether the address is loopback only."""
    import uvicorn

    sock = bind(host, port)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}/"
    loopback = _is_loopback(host)
    app = create_app(allowed_hosts=list(LOOPBACK_NAMES) if loopback else None)
    config = uvicorn.Config(
        app, log_level="warning", timeout_keep_alive=5, limit_concurrency=256, lifespan="off"
    )
    return uvicorn.Server(config), sock, url, loopback


def serve(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    open_browser: bool = False,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve the app until Ctrl-C (blocks).

    Parameters
    ----------
    host : str
        Address to bind; the default answers this machine only. Another
        address exposes the app to the network (a warning is printed).
    port : int
        Port; 0 picks a free one. The address is announced once bound.
    open_browser : bool
        Open the page in the default browser.
    announce : callable
        Receives the lines to print (the address, a warning).

    Raises
    ------
    OSError
        If the address cannot be bound (e.g. the port is taken).
    """
    server, sock, url, loopback = _server(host, port)
    if not loopback:
        announce(f"warning: {host} is not a loopback address; the app is open to the network")
    announce(f"hopfield app: serving on {url} (Ctrl-C stops)")
    if open_browser:
        webbrowser.open(url)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


@contextlib.contextmanager
def running(host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve the app in a background thread while the ``with`` block runs.

    For notebooks and tests: ``with running() as url: ...`` yields the
    page's URL (a free port by default) and stops the server on exit.
    """
    server, sock, url, _ = _server(host, port)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(3000):
            if server.started or not thread.is_alive():
                break
            thread.join(0.01)
        if not server.started:
            raise RuntimeError("the app's server did not start")
        yield url
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
