"""The email channel as the core sees it: conversations of kind ``email`` (tickets), installed
when ``EMAIL_IMAP_HOST`` (reading the service mailbox) or ``EMAIL_SMTP_HOST`` (sending) is set.
Settings and behaviour: README "Email" and docs/architecture.md, "Email channel"."""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional
from urllib.parse import urlsplit

from sanic import Sanic

from bot.core.channel import Capabilities, Channel, ConversationKind
from bot.core.models import Message
from bot.handoff.models import Handoff
from bot.http import routes
from bot.http.host import Host
from channels.email import metrics, quality
from channels.email.mailbox import ImapConfig
from channels.email.outbox import EmailConfigError, SmtpConfig
from channels.email.processing import MailProcessor, own_addresses
from channels.email import routes as email_routes

logger = logging.getLogger(__name__)


class EmailChannel(Channel):
    name = "email"
    kinds = (ConversationKind("email", {"zh": "电子邮件", "en": "Email"}),)
    capabilities = Capabilities(live_chat=False, replies_by_email=True)
    migrations = Path(__file__).parent / "migrations"

    def __init__(self) -> None:
        self.processor: Optional[MailProcessor] = None
        self.host: Optional[Host] = None

    def install(self, app: Sanic, host: Host) -> None:
        """Raises EmailConfigError (the service refuses to start) for settings that cannot work."""
        imap, smtp = ImapConfig.from_env(), SmtpConfig.from_env()
        if imap is None and smtp is None:
            return
        try:
            retry_seconds = float(os.environ.get("EMAIL_SMTP_RETRY_SECONDS", "30"))
        except ValueError:
            raise EmailConfigError("EMAIL_SMTP_RETRY_SECONDS must be a number of seconds") from None
        processor = self.processor = MailProcessor(host.conversations, imap, smtp, own_addresses(imap, smtp), retry_seconds,
                                                   survey_url(os.environ))
        self.host = host
        app.ctx.email = self  # the routes read it there

        async def start(app, _loop) -> None:  # after the app's own start, which migrates
            await processor.start()

        async def stop(app, _loop) -> None:
            await processor.stop()

        app.register_listener(start, "before_server_start")
        app.register_listener(stop, "before_server_stop")
        app.blueprint(routes.blueprint("email", email_routes.ROUTES))

    async def deliver(self, message: Message) -> None:
        if self.processor is not None:
            self.processor.wake_for(message)

    async def details(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        return await self.processor.details(conversation_id) if self.processor else None

    async def resolved(self, handoff: Handoff) -> None:
        """The survey by mail; the resolution stands (it is committed) even if that fails."""
        if self.processor is not None:
            try:
                await self.processor.resolved(handoff)
            except Exception:
                logger.exception("no survey mail for %s", handoff.conversation_id)

    def metrics(self, session) -> Iterable[Any]:
        return metrics.counts(session)

    def quality(self, session, board) -> None:
        quality.acknowledgement_speed(session, board)

    @staticmethod
    def problems(environ: Mapping[str, str] = os.environ) -> List[str]:
        found = []
        try:
            survey_url(environ)
        except EmailConfigError as error:
            found.append(str(error))
        for kind, read in (("IMAP", ImapConfig.from_env), ("SMTP", SmtpConfig.from_env)):
            try:
                config = read(environ)
            except EmailConfigError as error:
                found.append(str(error))
                continue
            if config and config.password and config.tls == "none" and not _is_this_host(config.host):
                found.append(f"EMAIL_{kind}_TLS=none would send EMAIL_{kind}_PASSWORD in clear to {config.host}: use starttls or tls")
        return found


def survey_url(environ: Mapping[str, str]) -> Optional[str]:
    """EMAIL_SURVEY_URL: the contact service's address as customers reach it (the survey mail's
    links start with it); unset: no survey by mail."""
    url = environ.get("EMAIL_SURVEY_URL", "").strip()
    if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
        raise EmailConfigError("EMAIL_SURVEY_URL must be an http(s) address, e.g. https://service.example.com")
    return url or None


def _is_this_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
