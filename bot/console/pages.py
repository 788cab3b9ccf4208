"""The agent console's web pages (bot/console/static/): ``GET /console/`` serves the single
page, ``/console/static/<file>`` its script and styles, and ``shared.js``, the helpers the
browser front ends share (bot/http/static/); ``/console/locales/<zh|en>.json`` the message
catalogues of the staff pages (bot/console/i18n.py), with an ETag, so browsers keep them until
they change. The API it talks to is in ``bot/console/auth.py``
and ``bot/console/agents.py`` (docs/console.md).

Every answer carries the strict Content-Security-Policy and the other headers of our own pages
(``bot/http/security_headers.py``): only our own scripts, styles and connections, no framing.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from sanic.request import Request
from sanic.response import HTTPResponse, empty, file, raw, redirect

from bot.console import i18n
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


async def catalogue(request: Request, name: str) -> HTTPResponse:
    try:
        body = i18n.raw(name[:-len(".json")])
    except KeyError:
        raise ApiError(404, "not_found", "No such language; use zh or en.") from None
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    cache = {**headers(), "ETag": etag}
    if etag in request.headers.get("if-none-match", ""):
        return empty(status=304, headers=cache)
    return raw(body, content_type="application/json; charset=utf-8", headers=cache)


ROUTES = [
    (console_bare, "/console", "GET", {"strict_slashes": True}),
    (console_page, "/console/", "GET", {"strict_slashes": True}),
    (console_static, "/console/static/<name>", "GET"),
    (catalogue, r"/console/locales/<name:[a-z]{2}\.json>", "GET"),
]


def install(app) -> None:
    app.blueprint(routes.blueprint("console_pages", ROUTES))
