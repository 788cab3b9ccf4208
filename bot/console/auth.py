"""Staff login for the agent console (docs/console.md), under ``/console/api/``.

A login opens a server-side session: the browser holds only a random token in an HttpOnly,
SameSite=Strict cookie, the database holds its SHA-256, so ending a session (logout, idle
timeout, deactivated account) takes effect at once. A request whose ``Origin`` (when the browser
sends one) is not our own host is refused; routes that change something also need the session's
CSRF token in ``X-CSRF-Token``.

Console routes call :func:`console_staff`. The ``/api/*`` routes never read this cookie: they
take bearer tokens and allow any origin (CORS), which is only safe because no cookie counts there.

The cookie is ``Secure`` when the browser came over HTTPS (here, or through a trusted proxy
saying so), or always with ``CONSOLE_SECURE_COOKIES=1``. Failed logins are limited three ways
(:class:`LoginLimits`) by the client's address, its real one behind a trusted proxy.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any, Dict, Optional, Tuple
from urllib.parse import urlsplit

from argon2.exceptions import InvalidHashError, VerificationError
from sanic.request import Request
from sanic.response import HTTPResponse, json as json_response
from sqlalchemy import Column, DateTime, ForeignKey, String, update
from sqlalchemy.orm import Session, sessionmaker

from bot.core import audit
from bot.core.conversations import Conversations
from bot.http import routes
from bot.http.errors import ApiError, json_body
from bot.http.client_address import over_https, request_address
from bot.core.models import Base, utcnow
from bot.core.ratelimit import Rate, Rates
from bot.core.staff import LANGUAGES, MAX_PASSWORD, PASSWORDS, Staff, set_language
from bot.core.time import as_aware

COOKIE = "egw_console"
FAILED_LOGIN_WINDOW = 15 * 60.0
# Failed logins allowed per FAILED_LOGIN_WINDOW (LoginLimits): for one account from one address (a
# person mistyping); from one address across accounts (an office behind one address has many
# agents: each may mistype a few times); for one account across addresses (guessing from many
# places; beyond it the account waits, whoever tries it).
FAILED_PER_ACCOUNT_AND_ADDRESS, FAILED_PER_ADDRESS, FAILED_PER_ACCOUNT = 5, 30, 20
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often
NO_STORE = {"Cache-Control": "no-store"}  # answers carrying the CSRF token
LOGIN_FAILED = "Wrong staff id or password."  # the one answer for every reason: no user enumeration
# Verified against when the id has no password, so that a failure takes as long either way.
_DUMMY_HASH = PASSWORDS.hash(secrets.token_urlsafe(16))


class ConsoleSession(Base):
    __tablename__ = "console_sessions"
    id = Column(String(64), primary_key=True)  # SHA-256 (hex) of the cookie's token
    staff_id = Column(String(64), ForeignKey("staff.id"), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)
    last_seen_at = Column(DateTime(timezone=True), nullable=False)
    ended_at = Column(DateTime(timezone=True))


class LoginLimits:
    """Failed console logins in a sliding window, per account and address, per address, and per
    account: one address cannot lock everyone out, and one account cannot be guessed from many
    addresses without limit. Counted on the core's shared rates: across contact-service processes
    when REDIS_URL is set, else in this process's memory.

    An attempt counts from its start, so parallel guesses cannot outrun a limit while their hashes
    are being checked. A successful login takes its attempt back (and clears the account's count
    from that address), so logging in to one's own account never makes room for guesses.
    """

    def __init__(self, rates: Rates, window: float = FAILED_LOGIN_WINDOW):
        self.rates = rates
        self.limits = {
            "account_and_address": Rate("login_account_and_address", FAILED_PER_ACCOUNT_AND_ADDRESS, window),
            "address": Rate("login_address", FAILED_PER_ADDRESS, window),
            "account": Rate("login_account", FAILED_PER_ACCOUNT, window),
        }

    @staticmethod
    def _keys(staff_id: str, address: str) -> Dict[str, str]:
        return {"account_and_address": f"{staff_id}\n{address}", "address": address, "account": staff_id}

    async def attempt(self, staff_id: str, address: str) -> Tuple[float, Optional[str]]:
        """(0, None) if this login may be tried now (it is counted), else the seconds until it may
        and the limit reached."""
        keys = self._keys(staff_id, address)
        wait, reached = await self.rates.take(*((rate, keys[name]) for name, rate in self.limits.items()))
        return (wait, list(self.limits)[reached]) if wait else (0.0, None)

    async def succeeded(self, staff_id: str, address: str) -> None:
        keys = self._keys(staff_id, address)
        await self.rates.forget(self.limits["account_and_address"], keys["account_and_address"])
        await self.rates.uncount(self.limits["address"], keys["address"])
        await self.rates.uncount(self.limits["account"], keys["account"])


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def staff_dict(staff: Staff) -> Dict[str, Any]:
    return {"id": staff.id, "name": staff.name, "role": staff.role, "language": staff.language or "zh"}


def _record(sessions: sessionmaker, *args, **kwargs) -> None:
    with sessions() as db:
        audit.record(db, *args, **kwargs)
        db.commit()


def _end(db: Session, session_id: str, now: datetime) -> bool:
    """End a live session; False if it had already ended (another request got there first)."""
    ended = db.execute(update(ConsoleSession).where(ConsoleSession.id == session_id, ConsoleSession.ended_at.is_(None))
                       .values(ended_at=now).execution_options(synchronize_session=False))
    return ended.rowcount == 1


def log_in(sessions: sessionmaker, staff_id: str, password: str, ip: str) -> Optional[Tuple[Staff, str, str]]:
    """Check the password and open a session: (staff, cookie token, CSRF token), or None after
    recording why it failed. A hash is verified whatever the reason, so timing tells nothing."""
    with sessions() as db:
        staff = db.get(Staff, staff_id)
        known = staff.password_hash if staff is not None else None
        try:
            verified = PASSWORDS.verify(known or _DUMMY_HASH, password) and known is not None
        except (VerificationError, InvalidHashError):
            verified = False
        reason = ("unknown_id" if staff is None else "inactive" if not staff.active
                  else "no_password" if known is None else None if verified else "wrong_password")
        if reason:
            audit.record(db, "anonymous", "login_failed", target=f"staff:{staff_id}", ip=ip, reason=reason)
            db.commit()
            return None
        if PASSWORDS.check_needs_rehash(known):
            staff.password_hash = PASSWORDS.hash(password)
        token, now = secrets.token_urlsafe(32), utcnow()
        session = ConsoleSession(id=_digest(token), staff_id=staff.id, csrf_token=secrets.token_urlsafe(32),
                                 created_at=now, last_seen_at=now)
        db.add(session)
        audit.record(db, f"staff:{staff.id}", "login", ip=ip)
        db.commit()
        return staff, token, session.csrf_token


def resume(sessions: sessionmaker, session_id: str, idle: timedelta, ip: str) -> Optional[Tuple[ConsoleSession, Staff]]:
    """The live session and its staff member, or None. A session idle for longer than ``idle``,
    or whose account was deactivated, is ended here (and recorded)."""
    now = utcnow()
    with sessions() as db:
        session = db.get(ConsoleSession, session_id)
        if session is None or session.ended_at is not None:
            return None
        staff = db.get(Staff, session.staff_id)
        idle_for = now - as_aware(session.last_seen_at)
        if idle_for > idle or not staff.active:
            if _end(db, session_id, now):
                audit.record(db, "system", "session_expired", target=f"staff:{staff.id}", ip=ip,
                             reason="idle" if staff.active else "account_inactive")
            db.commit()
            return None
        if idle_for >= min(TOUCH_EVERY, idle / 4):  # a short timeout (in tests) is touched more often
            session.last_seen_at = now
            db.commit()
        return session, staff


def log_out(sessions: sessionmaker, session_id: str, staff_id: str, ip: str) -> None:
    with sessions() as db:
        if _end(db, session_id, utcnow()):
            audit.record(db, f"staff:{staff_id}", "logout", ip=ip)
        db.commit()


def _idle(request: Request) -> timedelta:
    return timedelta(minutes=request.app.ctx.settings.console_idle_minutes)


def _check_origin(request: Request) -> None:
    """Refuse requests another origin's page started. Browsers send ``Origin`` with every
    cross-origin request, every POST and every WebSocket handshake (which carries no CSRF header)."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc.lower() != request.host.lower():
        raise ApiError(403, "csrf_failed", "The request came from another site (CSRF check failed).")


async def _current(request: Request, service: Conversations) -> Tuple[ConsoleSession, Staff]:
    if not request.path.startswith("/console/"):
        raise RuntimeError("console sessions are for /console/ routes only")
    _check_origin(request)
    token = request.cookies.get(COOKIE)
    address = request_address(request)
    found = await service.db(resume, service.store.sessions, _digest(token), _idle(request), address) if token else None
    if found is None:
        raise ApiError(401, "unauthorized", "Please log in to the console (again).")
    return found


def _check_csrf(request: Request, session: ConsoleSession) -> None:
    sent = request.headers.get("x-csrf-token", "")
    if not hmac.compare_digest(sent.encode("utf-8"), session.csrf_token.encode("utf-8")):
        raise ApiError(403, "csrf_failed", "The request did not come from the console (CSRF check failed); reload it.")


async def console_staff(request: Request, service: Conversations, csrf: bool) -> Staff:
    """The staff member logged in to the console, for a console route; 401 if nobody is. Pass
    ``csrf=True`` on every route that changes something (all but GET)."""
    session, staff = await _current(request, service)
    if csrf:
        _check_csrf(request, session)
    return staff


def _secure(request: Request) -> bool:
    """Whether the session cookie is marked Secure (module docstring)."""
    settings = request.app.ctx.settings
    forced = settings.console_secure_cookies
    return forced if forced is not None else over_https(request, settings.trusted_proxies)


def _set_cookie(response: HTTPResponse, token: str, secure: bool) -> None:
    """The session cookie, without Max-Age: the browser drops it when it closes. An empty token
    with Max-Age=0 deletes it."""
    response.cookies[COOKIE] = token
    cookie = response.cookies[COOKIE]
    cookie["httponly"], cookie["samesite"], cookie["path"], cookie["secure"] = True, "Strict", "/", secure
    if not token:
        cookie["max-age"] = 0


async def login(request: Request) -> HTTPResponse:
    service, limits = request.app.ctx.conversations, request.app.ctx.login_limits
    sessions = service.store.sessions
    _check_origin(request)  # another site must not log a browser in to the attacker's account
    body = json_body(request)
    staff_id, password = body.get("id"), body.get("password")
    if not isinstance(staff_id, str) or not isinstance(password, str) or not 1 <= len(staff_id) <= 64 \
            or not 1 <= len(password) <= MAX_PASSWORD:
        raise ApiError(400, "invalid_request", 'Send {"id": string, "password": string}.')
    address = request_address(request)
    wait, reached = await limits.attempt(staff_id, address)
    if wait:
        await service.db(_record, sessions, "anonymous", "login_failed", target=f"staff:{staff_id}",
                         ip=address, reason="rate_limited", limit=reached)
        raise ApiError(429, "rate_limited", "Too many failed logins; please try again later.",
                       {"Retry-After": str(int(wait) + 1)})
    found = await service.db(log_in, sessions, staff_id, password, address)
    if found is None:
        raise ApiError(401, "login_failed", LOGIN_FAILED)
    await limits.succeeded(staff_id, address)
    staff, token, csrf_token = found
    response = json_response({"staff": staff_dict(staff), "csrf_token": csrf_token}, headers=NO_STORE)
    _set_cookie(response, token, _secure(request))
    return response


async def logout(request: Request) -> HTTPResponse:
    service = request.app.ctx.conversations
    session, staff = await _current(request, service)
    _check_csrf(request, session)
    await service.db(log_out, service.store.sessions, session.id, staff.id, request_address(request))
    response = json_response({"logged_out": True})
    _set_cookie(response, "", _secure(request))
    return response


async def me(request: Request) -> HTTPResponse:
    service = request.app.ctx.conversations
    session, staff = await _current(request, service)
    return json_response({"staff": staff_dict(staff), "csrf_token": session.csrf_token,
                          "idle_timeout_seconds": round(_idle(request).total_seconds())}, headers=NO_STORE)


async def my_language(request: Request) -> HTTPResponse:
    """The console language the staff member prefers, ``{"language": "zh"|"en"}``: kept on their
    account, so it follows them to every browser."""
    service = request.app.ctx.conversations
    session, staff = await _current(request, service)
    _check_csrf(request, session)
    language = json_body(request).get("language")
    if language not in LANGUAGES:
        raise ApiError(422, "invalid_language", 'Send {"language": "zh"} or {"language": "en"}.')
    await service.db(_save_language, service.store.sessions, staff.id, language)
    return json_response({"language": language}, headers=NO_STORE)


def _save_language(sessions: sessionmaker, staff_id: str, language: str) -> None:
    with sessions() as db:
        set_language(db, staff_id, language)


ROUTES = [
    (login, "/console/api/login", "POST"),
    (logout, "/console/api/logout", "POST"),
    (me, "/console/api/me", "GET"),
    (my_language, "/console/api/me/language", "PUT"),
]


def install(app) -> None:
    app.ctx.login_limits = LoginLimits(app.ctx.conversations.shared.rates)  # the app's core, set before
    app.blueprint(routes.blueprint("console_auth", ROUTES))
