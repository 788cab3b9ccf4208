"""Blueprints from tables of module-level route handlers: ``(handler, uri, method)`` rows (the
method ``"WEBSOCKET"`` for a WebSocket route), or ``(handler, uri, method, options)`` with Sanic's
route options (``{"strict_slashes": True}``). A handler finds what it works with on
``request.app.ctx`` (the core at ``conversations``), so it can be read and called on its own."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Tuple, Union

from sanic import Blueprint

Route = Union[Tuple[Callable, str, str], Tuple[Callable, str, str, Dict[str, Any]]]


def blueprint(name: str, routes: Iterable[Route]) -> Blueprint:
    bp = Blueprint(name)
    for handler, uri, method, *options in routes:
        if method == "WEBSOCKET":
            bp.add_websocket_route(handler, uri, **(options[0] if options else {}))
        else:
            bp.add_route(handler, uri, methods=[method], **(options[0] if options else {}))
    return bp
