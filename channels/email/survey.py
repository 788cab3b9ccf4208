"""The satisfaction survey by email: after an agent resolved an email ticket, a mail with one
link per rating (1–5) to a small page of ours that records the rating once (bot/surveys.py).

A link carries the survey's id and when it expires, signed with HMAC-SHA256 under a key derived
from SESSION_SECRET (no signing library is installed), so it cannot be forged or prolonged; the
rating is only a query parameter, as the customer may pick another on the page. It is single use
because the survey takes one rating (``SurveyDesk.rate_once``).

**GET shows, POST records.** Mail scanners and link previews open every link of a mail; a rating
recorded on GET would be the scanner's, and always the first link's. So a link opens the page
with its rating preselected, and only the page's form (a POST, which scanners do not send)
records it. The price is a second click for the customer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
from datetime import datetime, timedelta
from typing import Optional

from bot import knowledge

LINK_DAYS = 7  # how long a survey link works
RATINGS = range(1, 6)


class InvalidLink(ValueError):
    """Not a link we made (forged, altered or cut short)."""


class ExpiredLink(ValueError):
    """A link of ours, past its time."""


class SurveyLinks:
    def __init__(self, secret: str, base_url: str):
        self._key = hmac.new(secret.encode(), b"email survey links", hashlib.sha256).digest()
        self.base_url = base_url.rstrip("/")

    def _signature(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def token(self, survey_id: int, now: datetime) -> str:
        payload = f"{survey_id}.{int((now + timedelta(days=LINK_DAYS)).timestamp())}"
        return f"{payload}.{self._signature(payload)}"

    def survey_id(self, token: str, now: datetime) -> int:
        """The survey a token of ours names; InvalidLink or ExpiredLink otherwise."""
        parts = token.split(".")
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit() or len(parts[0]) > 12:
            raise InvalidLink(token)
        if not hmac.compare_digest(parts[2].encode(), self._signature(f"{parts[0]}.{parts[1]}").encode()):
            raise InvalidLink(token)
        if now.timestamp() > int(parts[1]):
            raise ExpiredLink(token)
        return int(parts[0])

    def url(self, token: str, rating: int) -> str:
        return f"{self.base_url}/email/survey/{token}?rating={rating}"

    def mail_text(self, token: str, reference: str, language: str) -> str:
        """The survey mail's body before the greeting and signature: the request and one link a rating."""
        lines = [knowledge.message("email_survey_body", language, reference=reference, days=LINK_DAYS), ""]
        lines += [f"{knowledge.message('email_survey_rating', language, rating=r)}: {self.url(token, r)}" for r in reversed(RATINGS)]
        return "\n".join(lines)


def page(language: Optional[str], title_key: str, text: str, form: str = "") -> str:
    """A small page of ours (no script, no style: the pages' CSP allows none inline). Without a
    known ``language`` (a link we cannot read) it says everything in both."""
    languages = [language] if language else ["zh", "en"]
    title = " / ".join(knowledge.message(title_key, lang) for lang in languages)
    return (f'<!doctype html><html lang="{"en" if language == "en" else "zh-CN"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title></head>'
            f"<body><h1>{html.escape(title)}</h1>{text}{form}</body></html>")


def notice(language: Optional[str], key: str, **values) -> str:
    """A paragraph (both languages without ``language``), escaped."""
    languages = [language] if language else ["zh", "en"]
    return "".join(f'<p lang="{lang}">{html.escape(knowledge.message(key, lang, **values))}</p>' for lang in languages)


def rating_form(token: str, reference: str, language: str, chosen: Optional[int]) -> str:
    """The form the page shows: the ratings, the link's one preselected, and the submit button."""
    choices = "".join(
        f'<p><label><input type="radio" name="rating" value="{r}"{" checked" if r == chosen else ""}> '
        f"{html.escape(knowledge.message('email_survey_rating', language, rating=r))}</label></p>"
        for r in reversed(RATINGS))
    return (notice(language, "email_survey_page_intro", reference=reference)
            + f'<form method="post" action="/email/survey/{html.escape(token)}">{choices}'
            f'<p><button type="submit">{html.escape(knowledge.message("email_survey_page_submit", language))}</button></p></form>')
