"""A raw RFC 5322 message (bytes, as fetched over IMAP) read into an ``InboundEmail``.

Pure and total: any bytes give an ``InboundEmail`` (the standard library's parser records
defects instead of failing). Every text field is decoded and cleaned (``channels.email.text``):
subjects, names and filenames are single lines with no control characters, so they can be put
into our own headers and pages as they are. Attachments are only ever held as bytes: nothing
here (or anywhere in the channel) opens, renders or runs them.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import List, Optional, Tuple

from bot.references import pattern
from channels.email.text import (
    clean_body, clean_line, decode_bytes, decode_header_text, header_line, html_to_text, trim_quoted,
)

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024  # all attachments of one mail together; later ones are dropped
MAX_SUBJECT_CHARS = 500
MAX_NAME_CHARS = 200
MAX_FILENAME_CHARS = 200
MAX_THREAD_IDS = 50  # the newest ids of References kept
MAX_DEPTH = 20  # nested multiparts followed

# References in a subject: complaints ``C20261128-483924`` and inquiries ``Q20261128-483924``
# (bot/references.py; Q: the same references with prefix "Q"; the old four-digit form too), in
# square brackets (full-width 【】［］ too, which Chinese input methods produce).
_SUBJECT_REFERENCE = re.compile(rf"[\[【［]\s*({pattern('[CQ]')})\s*[\]】］]", re.IGNORECASE)

# A message id as it may be reused in our own In-Reply-To/References: printable ASCII, no <>.
_MESSAGE_ID = re.compile(r"<\s*([!-;=?-~]+?)\s*>")
_ADDRESS = re.compile(r"[^\s@<>()\[\],;:\"\\]+@[^\s@<>()\[\],;:\"\\]+\.[^\s@<>()\[\],;:\"\\]+")
_GENERATED_ID_DOMAIN = "generated.invalid"
_ENCODED_WORD = re.compile(r"=\?[A-Za-z0-9!#$%&'*+^_`{|}~.-]+\?[bBqQ]\?[^?\s]*\?=")  # as in text.py
_PLACEHOLDER = "xEWx"  # stands for an encoded word while an address header is parsed


@dataclass(frozen=True)
class Address:
    address: str  # local@domain, domain lower-cased
    name: str = ""  # display name, decoded, one clean line

    @property
    def key(self) -> str:
        """The address compared case-insensitively (senders, our own addresses)."""
        return self.address.lower()


@dataclass(frozen=True)
class Attachment:
    filename: str  # a bare, cleaned name (no path): safe to show and to offer for download
    content_type: str  # as the sender declared it; never trusted to open the file
    size: int
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class DroppedAttachment:
    filename: str
    content_type: str
    size: int
    reason: str


@dataclass(frozen=True)
class InboundEmail:
    message_id: str  # "<id>"; hash-based "<…@generated.invalid>" when the mail had none
    message_id_generated: bool
    in_reply_to: Tuple[str, ...]
    references: Tuple[str, ...]
    sender: Optional[Address]  # From (the first address); None when it has no usable address
    reply_to: Tuple[Address, ...]
    to: Tuple[Address, ...]
    cc: Tuple[Address, ...]
    subject: str
    date: Optional[datetime]  # timezone-aware; None when missing or unreadable (use the receipt time)
    text: str  # the whole body as plain text (from HTML when the mail had only HTML)
    text_from_html: bool
    attachments: Tuple[Attachment, ...]
    dropped_attachments: Tuple[DroppedAttachment, ...]
    notes: Tuple[str, ...]  # for agents: what was dropped or could not be read
    content_type: str  # of the whole message, e.g. "multipart/report"
    part_types: Tuple[str, ...]  # content type of every part, outermost first
    headers: Tuple[Tuple[str, str], ...] = field(repr=False)  # every header: name, decoded clean value

    def header(self, name: str) -> Optional[str]:
        """The first header called ``name`` (any case), decoded and on one line, or ``None``."""
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> List[str]:
        name = name.lower()
        return [value for key, value in self.headers if key.lower() == name]

    @property
    def new_text(self) -> str:
        """The body without the quoted history of a reply (``text.trim_quoted``), for the ticket."""
        return trim_quoted(self.text)

    @property
    def subject_references(self) -> Tuple[str, ...]:
        """Complaint (C…) and inquiry (Q…) references in the subject, upper-cased, in order."""
        found = []
        for match in _SUBJECT_REFERENCE.finditer(self.subject):
            reference = match.group(1).upper()
            if reference not in found:
                found.append(reference)
        return tuple(found)

    @property
    def reference(self) -> Optional[str]:
        """The first reference in the subject, or ``None``."""
        return self.subject_references[0] if self.subject_references else None

    @property
    def thread_ids(self) -> Tuple[str, ...]:
        """Ids this mail answers, most direct first: In-Reply-To, then References newest first."""
        ordered = list(self.in_reply_to) + list(reversed(self.references))
        return tuple(dict.fromkeys(ordered))

    @property
    def reply_address(self) -> Optional[Address]:
        """Where a reply goes: the first Reply-To, else the sender."""
        return self.reply_to[0] if self.reply_to else self.sender


# --- headers ------------------------------------------------------------------------------


def _raw_headers(message: EmailMessage) -> List[Tuple[str, str]]:
    return [(name, value if isinstance(value, str) else str(value)) for name, value in message.raw_items()]


def _first(raw: List[Tuple[str, str]], name: str) -> Optional[str]:
    name = name.lower()
    return next((value for key, value in raw if key.lower() == name), None)


def _all(raw: List[Tuple[str, str]], name: str) -> List[str]:
    name = name.lower()
    return [value for key, value in raw if key.lower() == name]


def _message_ids(value: Optional[str]) -> List[str]:
    """The ``<id>``s in a Message-ID / In-Reply-To / References value; ids with spaces, controls
    or non-ASCII are left out (they could not be reused in a header safely)."""
    if not value:
        return []
    value = re.sub(r"\r?\n[ \t]", " ", value)
    ids = [f"<{found}>" for found in _MESSAGE_ID.findall(value)]
    if not ids:  # some mailers leave out the brackets
        ids = [f"<{token}>" for token in value.split() if re.fullmatch(r"[!-;=?-~]+@[!-;=?-~]+", token)]
    return ids


def _addresses(values: List[str]) -> Tuple[Address, ...]:
    """The addresses of address headers. Encoded words are set aside before the structure is
    parsed: once decoded (or even before, with Q-encoding) a name can hold ``:``, ``@``, ``,``
    or ``<``, and must never be taken for an address or split a list."""
    words: List[str] = []

    def set_aside(match: re.Match) -> str:
        words.append(match.group(0))
        return f"{_PLACEHOLDER}{len(words) - 1}{_PLACEHOLDER}"

    def restore(text: str) -> str:
        return re.sub(f"{_PLACEHOLDER}(\\d+){_PLACEHOLDER}", lambda m: words[int(m.group(1))], text)

    unfolded = [_ENCODED_WORD.sub(set_aside, re.sub(r"\r?\n(?=[ \t])", "", v.replace(_PLACEHOLDER, ""))) for v in values]
    found = []
    for name, address in getaddresses(unfolded):
        address = clean_line(decode_header_text(restore(address))).strip("<>")
        if not _ADDRESS.fullmatch(address):
            continue
        local, domain = address.rsplit("@", 1)
        found.append(Address(f"{local}@{domain.lower()}", header_line(restore(name), MAX_NAME_CHARS)))
    return tuple(found)


def _date(value: Optional[str]) -> Optional[datetime]:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(clean_line(value))
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # "-0000": UTC (RFC 5322)


def _generated_id(raw: bytes, headers: List[Tuple[str, str]]) -> str:
    """A stable id for a mail without Message-ID: the same mail fetched twice gets the same id,
    whatever headers servers added on the way (only From/To/Cc/Date/Subject and the body count)."""
    digest = hashlib.sha256()
    for name in ("from", "to", "cc", "date", "subject"):
        digest.update(name.encode() + b":" + (_first(headers, name) or "").encode("utf-8", "surrogateescape") + b"\n")
    separator = re.search(rb"\r?\n\r?\n", raw)
    digest.update(raw[separator.end():] if separator else b"")
    return f"<{digest.hexdigest()[:40]}@{_GENERATED_ID_DOMAIN}>"


# --- body and attachments -----------------------------------------------------------------


def _part_text(part: EmailMessage) -> str:
    data = part.get_payload(decode=True) or b""
    charset = part.get_content_charset()
    if charset is None and part.get_content_type() == "text/html":
        meta = re.search(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", data[:4096], re.I)
        charset = meta.group(1).decode("ascii") if meta else None
    return decode_bytes(data, charset)


def _filename(part: EmailMessage, index: int) -> str:
    try:
        name = part.get_filename() or part.get_param("name") or ""
    except Exception:  # a malformed parameter: the parser's header objects can raise
        name = ""
    if not isinstance(name, str):
        name = str(name)
    name = clean_line(decode_header_text(name))  # Outlook puts encoded words into filename="…"
    name = re.split(r"[\\/]", name)[-1].lstrip(". ")  # no paths, no hidden or relative names
    name = name[:MAX_FILENAME_CHARS]
    if not name:
        kind = part.get_content_type()
        extension = mimetypes.guess_extension(kind) or (".txt" if kind.startswith("text/") else ".bin")
        name = f"attachment-{index}{extension}"
    return name


def _is_body_text(part: EmailMessage) -> bool:
    return (
        part.get_content_type() in ("text/plain", "text/html")
        and part.get_content_disposition() != "attachment"
        and not part.get_filename()
    )


def _plain_score(part: EmailMessage) -> int:
    """How good an alternative is for agents: plain text, then HTML (converted), then the rest."""
    kind = part.get_content_type()
    if kind == "text/plain" and _is_body_text(part) and _part_text(part).strip():
        return 3
    if kind.startswith("multipart/") or kind == "text/html":
        return 2
    return 1


class _Reader:
    def __init__(self) -> None:
        self.pieces: List[Tuple[str, str]] = []  # ("plain" | "html", text)
        self.files: List[Tuple[str, str, bytes]] = []
        self.part_types: List[str] = []
        self.notes: List[str] = []

    def read(self, part: EmailMessage, depth: int = 0) -> None:
        kind = clean_line(part.get_content_type())  # as the sender wrote it: it may hold a NUL, which PostgreSQL refuses
        self.part_types.append(kind)
        if depth > MAX_DEPTH:
            self.notes.append(f"Parts nested deeper than {MAX_DEPTH} levels were not read.")
            return
        if kind.startswith("multipart/"):
            children = [child for child in part.iter_parts()]
            if kind == "multipart/alternative" and children:
                # Alternatives say the same thing: read the best one (plain text first).
                children = [max(children, key=_plain_score)]
            for child in children:
                self.read(child, depth + 1)
        elif kind.startswith("message/"):
            # An attached mail or a delivery/read report: kept as bytes, never parsed further.
            payload = part.get_payload()
            if isinstance(payload, list):
                data = b"\n".join(sub.as_bytes(policy=policy.default) for sub in payload)
            else:
                data = part.get_payload(decode=True) or b""
            extension = ".eml" if kind in ("message/rfc822", "message/global") else ".txt"
            default = kind.split("/", 1)[1] + extension
            name = _filename(part, len(self.files) + 1)
            self.files.append((name if not name.startswith("attachment-") else default, kind, data))
        elif _is_body_text(part):
            self.pieces.append(("html" if kind == "text/html" else "plain", _part_text(part)))
        else:
            self.files.append((_filename(part, len(self.files) + 1), kind, part.get_payload(decode=True) or b""))


def read_email(raw: bytes, max_attachment_bytes: int = MAX_ATTACHMENT_BYTES) -> InboundEmail:
    """``raw`` (the message's bytes) read into an ``InboundEmail``. Attachments are kept in
    order while their sizes add up to at most ``max_attachment_bytes``; the others are dropped,
    each with a note."""
    message: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)
    raw_headers = _raw_headers(message)

    ids = _message_ids(_first(raw_headers, "Message-ID"))
    generated = not ids
    message_id = ids[0] if ids else _generated_id(raw, raw_headers)

    reader = _Reader()
    try:
        reader.read(message)
    except Exception as error:  # a body the parser cannot walk: keep the headers, say so
        reader.notes.append(f"The body could not be read ({type(error).__name__}).")

    texts = [html_to_text(text) if kind == "html" else clean_body(text) for kind, text in reader.pieces]
    attachments: List[Attachment] = []
    dropped: List[DroppedAttachment] = []
    used = 0
    for filename, content_type, data in reader.files:
        if used + len(data) > max_attachment_bytes:
            reason = f"over the limit of {max_attachment_bytes} bytes of attachments per mail"
            dropped.append(DroppedAttachment(filename, content_type, len(data), reason))
            reader.notes.append(f"Attachment {filename} ({len(data)} bytes) was dropped: {reason}.")
            continue
        used += len(data)
        attachments.append(Attachment(filename, content_type, len(data), data))

    sender = _addresses(_all(raw_headers, "From")[:1])
    return InboundEmail(
        message_id=message_id,
        message_id_generated=generated,
        in_reply_to=tuple(_message_ids(_first(raw_headers, "In-Reply-To"))[:MAX_THREAD_IDS]),
        references=tuple(_message_ids(_first(raw_headers, "References"))[-MAX_THREAD_IDS:]),
        sender=sender[0] if sender else None,
        reply_to=_addresses(_all(raw_headers, "Reply-To")),
        to=_addresses(_all(raw_headers, "To")),
        cc=_addresses(_all(raw_headers, "Cc")),
        subject=header_line(_first(raw_headers, "Subject"), MAX_SUBJECT_CHARS),
        date=_date(_first(raw_headers, "Date")),
        text="\n\n".join(text for text in texts if text),
        text_from_html=bool(reader.pieces) and all(kind == "html" for kind, _ in reader.pieces),
        attachments=tuple(attachments),
        dropped_attachments=tuple(dropped),
        notes=tuple(reader.notes),
        content_type=clean_line(message.get_content_type()),
        part_types=tuple(reader.part_types),
        headers=tuple((clean_line(name), header_line(value)) for name, value in raw_headers),
    )
