"""Abuse limits per client address, over real HTTP and WebSockets against the contact service (Rasa
is not needed), on SQLite and PostgreSQL, as an attacker would go at them: behind a reverse proxy
(the test speaks as the proxy on loopback, ``TRUSTED_PROXIES=127.0.0.1``), one customer's or one
guesser's flood must not lock anyone else out; reached directly, a forged ``X-Forwarded-For``
must not buy a fresh bucket. Also: the limiters' memory stays bounded whatever keys they are fed.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from typing import Any, Dict, Optional, Tuple

import pytest
import websockets

from bot.console.auth import FAILED_PER_ACCOUNT, FAILED_PER_ACCOUNT_AND_ADDRESS, FAILED_PER_ADDRESS
from bot.core.ratelimit import ConnectionCap, RateLimiter
from bot.core.staff import DEMO_AGENT, DEMO_SUPERVISOR, demo_password
from tests.support.ports import free_port
from tests.support.staff import audit_rows, staff_command
from tests.support.system import contact_service_alone


SESSIONS_PER_MINUTE = 10
SOCKETS = 20  # the default CONTACT_SOCKETS_PER_ADDRESS


@pytest.fixture(scope="module")
def proxied(database_url, tmp_path_factory):
    """The service behind a reverse proxy on this host: this test is the proxy, and says in
    X-Forwarded-For which client each request is from."""
    with contact_service_alone(tmp_path_factory.mktemp("proxied"), free_port(), DATABASE_URL=database_url,
                               TRUSTED_PROXIES="127.0.0.1", CONTACT_SESSIONS_PER_MINUTE=str(SESSIONS_PER_MINUTE)) as url:
        yield url


@pytest.fixture(scope="module")
def exposed(database_url, tmp_path_factory):
    """The service reached directly (its proxy is another host): the X-Forwarded-For a client
    sends is forged."""
    with contact_service_alone(tmp_path_factory.mktemp("exposed"), free_port(), DATABASE_URL=database_url,
                               TRUSTED_PROXIES="10.9.9.9", CONTACT_SESSIONS_PER_MINUTE=str(SESSIONS_PER_MINUTE)) as url:
        yield url


def post(url: str, path: str, body: Dict[str, Any], client: Optional[str] = None) -> Tuple[int, Dict[str, Any], Any]:
    headers = {"Content-Type": "application/json", **({"X-Forwarded-For": client} if client else {})}
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}"), error.headers


def new_session(url: str, client: Optional[str] = None) -> Tuple[int, Dict[str, Any]]:
    status, answer, _ = post(url, "/api/v1/sessions", {}, client)
    return status, answer


def log_in(url: str, staff_id: str, password: str, client: Optional[str] = None) -> Tuple[int, Dict[str, Any], Any]:
    return post(url, "/console/api/login", {"id": staff_id, "password": password}, client)


# --- new sessions ------------------------------------------------------------------------------

def test_new_sessions_are_limited_per_client_not_per_proxy(proxied):
    for _ in range(SESSIONS_PER_MINUTE):
        assert new_session(proxied, "203.0.113.10")[0] == 200
    status, answer = new_session(proxied, "203.0.113.10")
    assert status == 429 and answer["error"]["code"] == "rate_limited"
    assert new_session(proxied, "198.51.100.20")[0] == 200  # the next customer behind the same proxy
    # addresses put in front of the real one by the client do not make it someone else
    assert new_session(proxied, "192.0.2.1, 203.0.113.10")[0] == 429


# --- WebSockets per client address ---------------------------------------------------------------

def ws_url(url: str, token: str) -> str:
    return url.replace("http://", "ws://") + "/api/v1/ws?token=" + token


async def refused(socket) -> Dict[str, Any]:
    """The error frame of a socket over the cap, after which the service closes it (1013)."""
    frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
    with pytest.raises(websockets.ConnectionClosed):
        await asyncio.wait_for(socket.recv(), 10)
    assert socket.close_code == 1013
    return frame


async def still_open(socket) -> bool:
    try:
        await asyncio.wait_for(socket.recv(), 0.5)  # nothing is sent to a quiet, accepted socket
    except asyncio.TimeoutError:
        return socket.open
    return False


async def test_websockets_are_capped_per_client_address(proxied):
    token = new_session(proxied, "203.0.113.30")[1]["session_token"]
    client = {"X-Forwarded-For": "203.0.113.30"}
    sockets = [await websockets.connect(ws_url(proxied, token), extra_headers=client) for _ in range(SOCKETS)]
    try:
        assert all([await still_open(s) for s in sockets[-2:]])
        over = await websockets.connect(ws_url(proxied, token), extra_headers=client)
        assert (await refused(over))["error"]["code"] == "too_many_connections"
        # another customer behind the same proxy is not affected
        async with websockets.connect(ws_url(proxied, token), extra_headers={"X-Forwarded-For": "198.51.100.30"}) as other:
            assert await still_open(other)
        # a closed one makes room again
        await sockets.pop().close()
        deadline = time.monotonic() + 10
        while True:
            again = await websockets.connect(ws_url(proxied, token), extra_headers=client)
            if await still_open(again):
                sockets.append(again)
                break
            assert time.monotonic() < deadline, "the closed socket's place was never freed"
    finally:
        for socket in sockets:
            await socket.close()


async def test_a_forged_forwarded_for_does_not_get_past_the_websocket_cap(proxied, exposed):
    token = new_session(proxied, "192.0.2.77")[1]["session_token"]  # the same SESSION_SECRET: valid on both
    sockets = [await websockets.connect(ws_url(exposed, token), extra_headers={"X-Forwarded-For": f"192.0.2.{n}"})
               for n in range(SOCKETS)]
    try:
        over = await websockets.connect(ws_url(exposed, token), extra_headers={"X-Forwarded-For": "192.0.2.250"})
        assert (await refused(over))["error"]["code"] == "too_many_connections"
    finally:
        for socket in sockets:
            await socket.close()


def test_a_forged_forwarded_for_does_not_buy_new_sessions(exposed):
    answers = [new_session(exposed, f"192.0.2.{n}")[0] for n in range(SESSIONS_PER_MINUTE + 1)]
    assert answers.count(200) <= SESSIONS_PER_MINUTE and answers[-1] == 429


# --- console logins ----------------------------------------------------------------------------

def limited_attempts(database, staff_id: str):
    return [row for row in audit_rows(database, "login_failed", f"staff:{staff_id}") if row.detail["reason"] == "rate_limited"]


def test_one_client_guessing_an_account_does_not_lock_it_for_the_others(proxied, database):
    guesser, colleague = "203.0.113.40", "198.51.100.40"
    for attempt in range(FAILED_PER_ACCOUNT_AND_ADDRESS):
        assert log_in(proxied, DEMO_AGENT, f"guess-{attempt}", guesser)[0] == 401
    status, answer, headers = log_in(proxied, DEMO_AGENT, demo_password(DEMO_AGENT), guesser)
    assert status == 429 and answer["error"]["code"] == "rate_limited" and 800 < int(headers["Retry-After"]) <= 901
    assert log_in(proxied, DEMO_AGENT, demo_password(DEMO_AGENT), colleague)[0] == 200  # before: all shared the proxy's
    [entry] = limited_attempts(database, DEMO_AGENT)
    assert entry.ip == guesser and entry.detail["limit"] == "account_and_address"
    failed = [row.ip for row in audit_rows(database, "login_failed", f"staff:{DEMO_AGENT}")]
    assert failed == [guesser] * (FAILED_PER_ACCOUNT_AND_ADDRESS + 1)
    assert audit_rows(database, "login", actor=f"staff:{DEMO_AGENT}")[-1].ip == colleague


def test_one_client_trying_many_accounts_is_stopped_and_nobody_else(proxied, database):
    sprayer = "203.0.113.50"
    for n in range(FAILED_PER_ADDRESS):
        assert log_in(proxied, f"made-up-{n}", "password123", sprayer)[0] == 401
    status, _, _ = log_in(proxied, DEMO_SUPERVISOR, demo_password(DEMO_SUPERVISOR), sprayer)
    assert status == 429  # even a real account with its password, from there, for a while
    [entry] = limited_attempts(database, DEMO_SUPERVISOR)
    assert entry.ip == sprayer and entry.detail["limit"] == "address"
    assert log_in(proxied, DEMO_SUPERVISOR, demo_password(DEMO_SUPERVISOR), "198.51.100.50")[0] == 200


def test_logging_in_to_ones_own_account_makes_no_room_for_more_guesses(proxied):
    insider = "203.0.113.60"
    for n in range(FAILED_PER_ADDRESS - 1):
        assert log_in(proxied, f"someone-{n}", "password123", insider)[0] == 401
    assert log_in(proxied, DEMO_AGENT, demo_password(DEMO_AGENT), insider)[0] == 200
    assert log_in(proxied, "someone-else", "password123", insider)[0] == 401  # the last failure allowed
    assert log_in(proxied, "another-one", "password123", insider)[0] == 429


def test_one_account_guessed_from_many_clients_is_stopped(proxied, database, database_url):
    target, password = "target-agent", "target-agent-password-1"
    assert staff_command(database_url, "add", target, "--name", "Target", "--role", "agent", "--password",
                         password=password).returncode == 0
    for n in range(FAILED_PER_ACCOUNT):
        assert log_in(proxied, target, f"guess-{n}", f"192.0.2.{n + 1}")[0] == 401
    status, _, _ = log_in(proxied, target, password, "192.0.2.200")
    assert status == 429  # the account waits, whoever tries it: the price of a limit per account
    [entry] = limited_attempts(database, target)
    assert entry.ip == "192.0.2.200" and entry.detail["limit"] == "account"
    assert log_in(proxied, DEMO_AGENT, demo_password(DEMO_AGENT), "192.0.2.1")[0] == 200  # other accounts are fine


def test_a_forged_forwarded_for_does_not_buy_new_guesses(exposed):
    for n in range(FAILED_PER_ACCOUNT_AND_ADDRESS):
        assert log_in(exposed, DEMO_AGENT, f"guess-{n}", f"192.0.2.{n}")[0] == 401
    assert log_in(exposed, DEMO_AGENT, demo_password(DEMO_AGENT), "192.0.2.99")[0] == 429


# --- memory --------------------------------------------------------------------------------------

def test_a_rate_limiter_forgets_quiet_keys_and_holds_at_most_max_keys():
    limiter = RateLimiter(limit=2, window=0.2, max_keys=100)
    for n in range(1000):  # made-up keys, as from a flood of forged ids
        assert limiter.retry_after(f"key-{n}") == 0
    assert len(limiter) == 100
    time.sleep(0.25)
    assert limiter.retry_after("fresh") == 0 and len(limiter) == 1  # the quiet ones are gone
    assert limiter.retry_after("fresh") == 0 and limiter.retry_after("fresh") > 0
    limiter.uncount("fresh")
    assert limiter.retry_after("fresh") == 0 and limiter.retry_after("fresh") > 0
    limiter.forget("fresh")
    assert len(limiter) == 0


def test_a_connection_cap_keeps_only_addresses_with_connections_open():
    cap = ConnectionCap(2)
    assert cap.open("a") and cap.open("a") and not cap.open("a") and cap.open("b")
    cap.closed("a")
    assert cap.open("a")
    for key in ("a", "a", "b"):
        cap.closed(key)
    assert len(cap) == 0
