"""``/metrics`` of each service, in Prometheus's text format.

Each app gets its own ``CollectorRegistry`` (not the library's global one), so several apps in
one process (tests) never register the same name twice; the contact service's counts are the
core's (bot/core/metrics.py) and its channels'.

Who may read ``/metrics``: with ``METRICS_TOKEN`` set, only requests carrying
``Authorization: Bearer <METRICS_TOKEN>`` (from anywhere, loopback included); without it, only
requests whose peer is loopback and that came through no proxy (no ``Forwarded``,
``X-Forwarded-For`` or ``X-Real-IP`` header, which a reverse proxy on the same host would add).
The page holds operational counts, no personal data, but it should not be public by accident.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import os
import time
from typing import Optional

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json as json_response, raw

PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def allowed(request: Request, token: Optional[str]) -> bool:
    """The access rule of ``/metrics`` (module docstring)."""
    if token:
        header = request.headers.get("authorization", "")
        given = header[7:].strip() if header.lower().startswith("bearer ") else ""
        return hmac.compare_digest(given.encode(), token.encode())
    if any(name in request.headers for name in PROXY_HEADERS):
        return False
    # The peer itself, even behind TRUSTED_PROXIES: a request that came through a proxy was refused
    # above, so the client address (bot/http/client_address.py) could only be the peer anyway.
    try:
        return ipaddress.ip_address(request.ip).is_loopback
    except ValueError:  # a Unix socket, or no peer address
        return False


def serve(app: Sanic, registry: CollectorRegistry, token: Optional[str] = None) -> None:
    """Add ``GET /metrics`` and the HTTP latency histogram per route to ``app``.

    ``token`` defaults to the environment's ``METRICS_TOKEN``.
    """
    token = token if token is not None else os.environ.get("METRICS_TOKEN", "")
    request_seconds = Histogram("evergreen_http_request_seconds", "HTTP requests by method, route pattern and status",
                                ["method", "route", "status"], registry=registry)

    @app.middleware("request")
    async def start_timer(request: Request) -> None:
        if not hasattr(request.ctx, "metrics_started"):  # Sanic runs this again for a request that raised
            request.ctx.metrics_started = time.perf_counter()

    @app.middleware("response")
    async def observe(request: Request, response: HTTPResponse) -> None:
        started = getattr(request.ctx, "metrics_started", None)
        if started is None:
            return
        # The route's pattern, never the URL: ids in paths would make a series per conversation.
        route = request.route.uri if request.route else "unmatched"
        request_seconds.labels(request.method, route, str(response.status)).observe(time.perf_counter() - started)

    @app.get("/metrics")
    async def metrics(request: Request) -> HTTPResponse:
        if not allowed(request, token):
            if token:
                return json_response({"error": {"code": "unauthorized", "message": "A metrics token is required."}},
                                     status=401, headers={"WWW-Authenticate": "Bearer"})
            return json_response({"error": {"code": "forbidden", "message": "Metrics are served to loopback only."}},
                                 status=403)
        body = await asyncio.to_thread(generate_latest, registry)  # the database counts are synchronous queries
        return raw(body, content_type=CONTENT_TYPE_LATEST)
