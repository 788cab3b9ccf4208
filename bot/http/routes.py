"""Blueprints from tables of module-level route handlers: ``(handler, uri, method)`` rows, the
method ``"WEBSOCKET"`` for a WebSocket route. A handler finds what it works with on
``request.app.ctx`` (the core at ``conversations``), so it can be read and called on its own."""

from __future__ import annotations

from typing import Callable, Iterable, Tuple

from sanic import Blueprint

Route = Tuple[Callable, str, str]


def blueprint(name: str, routes: Iterable[Route]) -> Blueprint:
    bp = Blueprint(name)
    for handler, uri, method in routes:
        if method == "WEBSOCKET":
            bp.add_websocket_route(handler, uri)
        else:
            bp.add_route(handler, uri, methods=[method])
    return bp
