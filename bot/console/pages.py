"""The agent console's web pages (bot/console/static/): ``GET /console/`` serves the single
page, ``/console/static/<file>`` its script and styles, and ``shared.js``, the helpers the
browser front ends share (bot/http/static/). The API it talks to is in ``bot/console/auth.py``
and ``bot/console/agents.py`` (docs/console.md).

Every answer carries the strict Content-Security-Policy and the other headers of our own pages
(``bot/http/security_headers.py``): only our own scripts, styles and connections, no framing.
"""

from __future__ import annotations

import re
from pathlib import Path

from sanic.request import Request
from sanic.response import HTTPResponse, file, redirect

from bot.http.errors import ApiError
from bot.http import SHARED_SCRIPT, routes
from bot.http.security_headers import PAGES as SECURITY_HEADERS, pages as headers

CONSOLE_STATIC = Path(__file__).parent / "static"
# Plain file names only: no directories, no dot files, only the types the console uses.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*\.(?:html|js|css|png|svg)$")
_TYPES = {"html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
          "css": "text/css; charset=utf-8", "png": "image/png", "svg": "image/svg+xml"}


async def console_bare(request: Request) -> HTTPResponse:
    return redirect("/console/", headers=dict(SECURITY_HEADERS))  # redirect() adds to the dict


async def console_page(request: Request) -> HTTPResponse:
    return await file(CONSOLE_STATIC / "console.html", mime_type=_TYPES["html"], headers=headers("no-store"))


async def console_static(request: Request, name: str) -> HTTPResponse:
    if name == SHARED_SCRIPT.name:
        return await file(SHARED_SCRIPT, mime_type=_TYPES["js"], headers=headers())
    path = CONSOLE_STATIC / name
    if not _NAME.match(name) or path.resolve().parent != CONSOLE_STATIC.resolve() or not path.is_file():
        raise ApiError(404, "not_found", "No such console file.")
    return await file(path, mime_type=_TYPES[name.rsplit(".", 1)[1]], headers=headers())


ROUTES = [
    (console_bare, "/console", "GET", {"strict_slashes": True}),
    (console_page, "/console/", "GET", {"strict_slashes": True}),
    (console_static, "/console/static/<name>", "GET"),
]


def install(app) -> None:
    app.blueprint(routes.blueprint("console_pages", ROUTES))
