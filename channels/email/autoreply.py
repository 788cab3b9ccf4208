"""Whether an incoming mail may get an automatic reply (the acknowledgement), and if not, why.

The rules are those of RFC 3834 and of careful helpdesks (Zammad's auto-response check and
their like): never answer a machine, a list, a bounce, a sender that asked not to get automatic
replies, or ourselves. A refused mail still becomes a ticket; only the automatic mail is not
sent. Agents' own answers are not automatic and are not checked here.

The caps that need the database plug in through the two counts: the caller counts the
acknowledgements already sent (the outbox) for the ticket and to the sender since the start of
the Asia/Shanghai day, and passes them; ``None`` skips that check. So:

    verdict = auto_reply_verdict(mail, own_addresses=config.addresses,
                                 acks_for_ticket=..., acks_to_sender_today=...)
    if verdict.allowed: queue the acknowledgement in the same transaction as the ticket
    else: log verdict.reasons on the ticket

Our own automatic mail carries ``AUTO_REPLY_HEADERS`` (``outbox.build_message``) so that other
systems do not answer it.

Some reasons also say the mail was written by a machine (``AutoReplyVerdict.automated``): such
mail is kept as an *automated* ticket, never queued for agents. The others (a sender asking for no
automatic reply, a mail without a usable sender, the caps) only stop the acknowledgement: a
corporate customer's Outlook may set X-Auto-Response-Suppress on a real request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple

from channels.email.reading import Address, InboundEmail

# RFC 3834 §5: the header for our acknowledgements. X-Auto-Response-Suppress asks Exchange and
# Outlook not to answer it with an out-of-office or other automatic reply either.
AUTO_REPLY_HEADERS: Tuple[Tuple[str, str], ...] = (
    ("Auto-Submitted", "auto-replied"),
    ("X-Auto-Response-Suppress", "All"),
)
# The reasons that say a machine wrote the mail: out-of-office and other automatic replies,
# bulk mail and newsletters, lists, bounces, no-reply senders, and our own mail come back.
AUTOMATED_CODES = frozenset({
    "auto-submitted", "precedence", "mailing-list", "autoreply-header", "x-loop", "empty-return-path", "bounce",
    "autoreply-subject", "system-sender", "own-address", "own-message",
})
MAX_ACKS_PER_TICKET = 1
MAX_ACKS_PER_SENDER_PER_DAY = 5

_PRECEDENCE = {"bulk", "list", "junk", "auto_reply"}
# Microsoft's X-Auto-Response-Suppress (MS-OXCMAIL 2.1.3.2.20) lists what the sender does not
# want back. Any value refuses, as the issue and Zammad's conservative reading have it: a sender
# that sets it at all is a system, and a missed acknowledgement costs less than a mail loop.
_AUTOREPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-auto-reply", "x-autoreply-from", "x-mail-autoreply")
_LIST_HEADERS = ("x-mailing-list", "mailing-list")
_REPORT_PARTS = {
    "message/delivery-status", "message/global-delivery-status",
    "message/disposition-notification", "message/global-disposition-notification",
    "message/feedback-report",
}
# Local parts of system senders, compared without case, "+tag", dots, dashes and underscores.
_SYSTEM_SENDERS = {"mailerdaemon", "postmaster", "noreply", "donotreply", "noreplies", "bounce", "bounces"}
_SYSTEM_PREFIXES = ("noreply", "donotreply", "mailerdaemon")
# Subjects of out-of-office and other automatic replies from mailers that add no header for it
# (several Chinese webmail services among them).
_AUTOREPLY_SUBJECT = re.compile(
    r"^\s*(自动回复|自動回覆|自动答复|自動回复|Automatic reply|Auto[- ]?reply|Autoreply|Out of (the )?Office"
    r"|Auto[- ]?response|Abwesenheitsnotiz)\b\s*[:：]?",
    re.I,
)


@dataclass(frozen=True)
class AutoReplyVerdict:
    reasons: Tuple[str, ...]  # "code: detail", e.g. "auto-submitted: auto-replied"; empty when allowed

    @property
    def allowed(self) -> bool:
        return not self.reasons

    @property
    def reason(self) -> Optional[str]:
        """The first reason an automatic reply is refused, or ``None``."""
        return self.reasons[0] if self.reasons else None

    @property
    def codes(self) -> Tuple[str, ...]:
        return tuple(reason.split(":", 1)[0] for reason in self.reasons)

    @property
    def automated(self) -> Tuple[str, ...]:
        """The reasons that mark machine mail (``AUTOMATED_CODES``); empty for a person's mail."""
        return tuple(reason for reason in self.reasons if reason.split(":", 1)[0] in AUTOMATED_CODES)


def _token(value: str) -> str:
    """The first word of a header value, lower-cased, without parameters or comments."""
    return re.split(r"[;(\s]", value.strip(), maxsplit=1)[0].lower()


def _is_system_sender(address: Address) -> bool:
    local = address.key.rsplit("@", 1)[0].split("+", 1)[0]
    local = re.sub(r"[._-]", "", local)
    return local in _SYSTEM_SENDERS or local.startswith(_SYSTEM_PREFIXES)


def auto_reply_verdict(
    mail: InboundEmail,
    own_addresses: Iterable[str] = (),
    own_message_id_domains: Iterable[str] = (),
    acks_for_ticket: Optional[int] = None,
    acks_to_sender_today: Optional[int] = None,
    max_acks_per_sender_per_day: int = MAX_ACKS_PER_SENDER_PER_DAY,
) -> AutoReplyVerdict:
    """Every reason not to reply automatically to ``mail`` (none: the reply may be sent).

    ``own_addresses``: the service's addresses (a mail from or answering to one is our own);
    ``own_message_id_domains``: the domains of the Message-IDs we generate (our own mail come back);
    ``acks_for_ticket`` / ``acks_to_sender_today``: acknowledgements already sent, from the store.
    """
    reasons: List[str] = []
    headers = {name.lower() for name, _ in mail.headers}

    for value in mail.header_all("Auto-Submitted"):
        if _token(value) != "no":  # RFC 3834: auto-generated, auto-replied, auto-notified, …
            reasons.append(f"auto-submitted: {value or '(empty)'}")
            break
    for name in ("Precedence", "X-Precedence"):
        value = mail.header(name)
        if value is not None and _token(value) in _PRECEDENCE:
            reasons.append(f"precedence: {_token(value)}")
    list_headers = sorted({name for name, _ in mail.headers
                           if name.lower().startswith("list-") or name.lower() in _LIST_HEADERS})
    if list_headers:
        reasons.append(f"mailing-list: {', '.join(list_headers)}")
    suppress = mail.header_all("X-Auto-Response-Suppress")
    if suppress:
        reasons.append(f"auto-response-suppress: {', '.join(suppress)}")
    found = [name for name in _AUTOREPLY_HEADERS if name in headers]
    if found:
        reasons.append(f"autoreply-header: {', '.join(found)}")
    if "x-loop" in headers:
        reasons.append(f"x-loop: {mail.header('X-Loop')}")

    return_path = mail.header("Return-Path")
    if return_path is not None and re.fullmatch(r"[<>\s]*", return_path):
        reasons.append("empty-return-path: <>")  # RFC 3834 §2: the null sender is never answered

    if mail.content_type == "multipart/report" or _REPORT_PARTS & set(mail.part_types):
        reasons.append(f"bounce: {mail.content_type}")
    elif "x-failed-recipients" in headers:
        reasons.append(f"bounce: X-Failed-Recipients {mail.header('X-Failed-Recipients')}")

    if _AUTOREPLY_SUBJECT.match(mail.subject):
        reasons.append(f"autoreply-subject: {mail.subject[:60]}")

    targets = [a for a in (mail.sender, mail.reply_address) if a is not None]
    if mail.sender is None or mail.reply_address is None:
        reasons.append("no-sender: no usable From address")
    for address in dict.fromkeys(targets):
        if _is_system_sender(address):
            reasons.append(f"system-sender: {address.address}")
    own = {address.strip().lower() for address in own_addresses if address.strip()}
    for address in dict.fromkeys(targets):
        if address.key in own:
            reasons.append(f"own-address: {address.address}")
    domains = {domain.strip().lower().lstrip("@") for domain in own_message_id_domains if domain.strip()}
    if not mail.message_id_generated and mail.message_id.rstrip(">").rsplit("@", 1)[-1].lower() in domains:
        reasons.append(f"own-message: {mail.message_id}")

    if acks_for_ticket is not None and acks_for_ticket >= MAX_ACKS_PER_TICKET:
        reasons.append(f"ticket-acknowledged: {acks_for_ticket} already sent")
    if acks_to_sender_today is not None and acks_to_sender_today >= max_acks_per_sender_per_day:
        reasons.append(f"sender-daily-cap: {acks_to_sender_today} sent today")
    return AutoReplyVerdict(tuple(reasons))
