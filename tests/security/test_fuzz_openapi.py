"""A fuzz pass over the customer API as its OpenAPI document describes it (channels/web/openapi.yaml,
read from the running service's /api/v1/openapi.yaml), with Schemathesis.

For every operation, requests that follow the document and requests that break it are generated
and sent to the real contact service; its Rasa is a dead port, so messages stay pending and get
the stored apology, which is a correct 200. Each answer must be no 5xx, documented (status,
content type, body schema), a 4xx for a request that breaks the document, a 401 without a valid
session, and every 4xx must carry the error body. Then the service must still answer a customer.

Bounded and reproducible: a fixed number of examples per operation and mode, derandomised (the
same requests on every run), no example database: about half a minute for each database.
"""

from __future__ import annotations

import json
import math
import urllib.request

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from bot.http import inputs
from tests.support.clients import Client
from tests.support.ports import free_port
from tests.support.system import contact_service_alone


EXAMPLES = 100  # per operation and generation mode


@pytest.fixture(scope="module")
def service(database_url, tmp_path_factory):
    """On SQLite and PostgreSQL (which refuses a NUL that SQLite stores); a new session for every
    request (NewVisitor) is far more than a person starts in a minute."""
    with contact_service_alone(tmp_path_factory.mktemp("fuzz"), free_port(), DATABASE_URL=database_url,
                               CONTACT_SESSIONS_PER_MINUTE="100000") as url:
        yield url


@pytest.fixture
def customer_api(service):
    schema = schemathesis.openapi.from_url(f"{service}/api/v1/openapi.yaml")
    schema.config.output.sanitization.update(enabled=False)  # show the tokens in a failure: nothing here is secret
    schema.config.update(base_url=service)
    schema.config.checks.negative_data_rejection.expected_statuses = ["4XX"]  # 413 for a text too long, too
    # replaced by valid_requests_accepted below, which knows what a document cannot say
    schema.config.checks.update(excluded_check_names=["positive_data_acceptance"])
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=EXAMPLES,
                                    deterministic=True, database="none")
    return schema


# A WebSocket handshake is beyond an HTTP fuzzer (plain HTTP gets 426; frames are probed in test_inputs.py).
customer_api_schema = schemathesis.pytest.from_fixture("customer_api").exclude(path="/api/v1/ws")


@customer_api_schema.auth(refresh_interval=None)
class NewVisitor:
    """Every request as a new visitor, so the 20 messages a minute of one conversation do not turn
    the run into 429s."""

    def get(self, case, context) -> str:
        request = urllib.request.Request(f"{case.operation.schema.get_base_url()}/api/v1/sessions", data=b"{}", method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["session_token"]

    def set(self, case, token: str, context) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


@schemathesis.check
def error_body(ctx, response, case) -> None:
    """Every 4xx is {"error": {"code": str, "message": str}}."""
    if 400 <= response.status_code < 500:
        answer = json.loads(response.content)
        assert set(answer) == {"error"} and set(answer["error"]) == {"code", "message"}, answer
        assert all(isinstance(answer["error"][key], str) and answer["error"][key] for key in ("code", "message")), answer


# A request the document allows may still be refused for what it cannot describe: a button that was
# not sent in this conversation, a text of spaces only, and (below) the limits of every body.
REFUSALS_BEYOND_THE_DOCUMENT = {"unknown_button", "empty_message"}


def beyond_body_limits(value, depth: int = 0) -> bool:
    """Whether a JSON value breaks docs/contact-api.md's "Limits" (bot/http/inputs.py): nesting
    over MAX_DEPTH, an integer beyond 64 bits, a number that is not finite."""
    if isinstance(value, (dict, list)):
        items = value.values() if isinstance(value, dict) else value
        return depth + 1 > inputs.MAX_DEPTH or any(beyond_body_limits(item, depth + 1) for item in items)
    if isinstance(value, float):
        return not math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool) and not inputs.MIN_INT <= value <= inputs.MAX_ID


@schemathesis.check
def valid_requests_accepted(ctx, response, case) -> None:
    """Schemathesis' positive_data_acceptance (a request following the document is not refused as
    malformed), but for what a document cannot describe."""
    if case.meta.generation.mode.is_positive and response.status_code in (400, 413, 422):
        code = json.loads(response.content)["error"]["code"]
        beyond_limits = code == "invalid_request" and beyond_body_limits(case.body)
        assert code in REFUSALS_BEYOND_THE_DOCUMENT or beyond_limits, \
            f"a request following the document was refused: {response.status_code} {code}"


@customer_api_schema.parametrize()
@settings(derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_the_customer_api_holds_up_to_generated_requests(case):
    case.call_and_validate(additional_checks=[error_body, valid_requests_accepted])


def test_the_service_still_answers_a_customer_afterwards(service):
    customer = Client(service)
    customer.start()
    assert customer.say("你好")["message"]["text"] == "你好"
