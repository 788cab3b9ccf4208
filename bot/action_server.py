"""The action server: rasa_sdk's own app, as ``python -m rasa_sdk`` builds and runs it, plus
``/metrics`` (bot/http/metrics.py) with how long each action takes.

``python -m bot.action_server --actions actions --port 5055`` takes rasa_sdk's arguments;
``/health`` and ``/webhook`` are rasa_sdk's, unchanged. The action server reaches the database
only inside actions, so its ``/metrics`` has this process's histograms, not the database counts
(the contact service's ``/metrics`` has those).
"""

from __future__ import annotations

import json
import logging
import os
import time
import zlib

from prometheus_client import CollectorRegistry, Histogram
from rasa_sdk import utils
from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
from rasa_sdk.endpoint import create_app as create_sdk_app, create_argument_parser, create_ssl_context
from rasa_sdk.plugin import plugin_manager
from sanic import Sanic
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.http import metrics
from bot.privacy import install_log_masking

logger = logging.getLogger(__name__)


def _action_name(request: Request):
    """``next_action`` of a webhook call (Rasa deflates the body when told to compress)."""
    try:
        if request.headers.get("Content-Encoding") == "deflate":
            call = json.loads(zlib.decompress(request.body))
        else:
            call = request.json  # parsed once: Sanic keeps it for the handler
    except (ValueError, zlib.error, SanicException):  # the webhook answers a bad body itself
        return None
    return call.get("next_action") if isinstance(call, dict) else None


def create_app(actions: str = "actions", cors_origins=None, auto_reload: bool = False) -> Sanic:
    app = create_sdk_app(actions, cors_origins=cors_origins, auto_reload=auto_reload)
    registry = CollectorRegistry()
    action_seconds = Histogram("evergreen_action_seconds", "Custom actions run by the action server, by action",
                               ["action"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=registry)
    metrics.serve(app, registry)  # first: its request middleware starts the clock before the body is read

    @app.middleware("request")
    async def name_the_action(request: Request) -> None:
        if request.path == "/webhook" and not hasattr(request.ctx, "action"):
            request.ctx.action = _action_name(request)

    @app.middleware("response")
    async def time_the_action(request: Request, response: HTTPResponse) -> None:
        action, started = getattr(request.ctx, "action", None), getattr(request.ctx, "metrics_started", None)
        # 404: no such action; its name is whatever the caller sent, so it makes no label.
        if isinstance(action, str) and started is not None and response.status != 404:
            action_seconds.labels(action).observe(time.perf_counter() - started)

    return app


def main() -> None:
    """What ``python -m rasa_sdk`` does (rasa_sdk.__main__ and endpoint.run), with our app."""
    install_log_masking()  # before anything logs: no secret a customer typed reaches the log
    args = create_argument_parser().parse_args()
    logging.getLogger("matplotlib").setLevel(logging.WARN)
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(logging.getLogger(APPLICATION_ROOT_LOGGER_NAME), args.log_file, args.loglevel,
                                 args.logging_config_file)
    utils.update_sanic_log_level()
    app = create_app(args.actions, cors_origins=args.cors, auto_reload=args.auto_reload)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    ssl_context = create_ssl_context(args.ssl_certificate, args.ssl_keyfile, args.ssl_password)
    host = os.environ.get("SANIC_HOST", "0.0.0.0")
    logger.info("Action endpoint is up and running on %s://%s:%s", "https" if ssl_context else "http", host, args.port)
    app.run(host, args.port, ssl=ssl_context, workers=utils.number_of_sanic_workers())


if __name__ == "__main__":
    main()
