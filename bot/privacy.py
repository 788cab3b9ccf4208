"""Masking of secrets and personal numbers (spec: never stored, shown or logged in clear).

``mask_sensitive`` is the one function every way in passes a customer's text through before it
is stored, sent to the assistant, shown to staff or logged (``MaskingFilter`` does it for log
records). What it masks, in this order:

1. **Secrets given with a cue word**: the cue, maybe a connector (是/为/:/＝/is …), then the
   secret; only the secret is replaced, by a fixed run of stars (its length is not kept), so
   the sentence still reads "my password is ******" and staff see that one was sent.

   - password (``PASSWORD_CUES``: 密码 密碼 口令 PIN password passcode pwd …):
     4–32 letters, digits and symbols;
   - one-time code (``CODE_CUES``: 验证码 驗證碼 校验码 动态码 短信码 OTP, verification/SMS/
     one-time code, a bare "code" unless ``NOT_SECRET_CODES`` says otherwise: "fund code"):
     4–8 letters and digits, at least one a digit;
   - card security code (``CARD_CODE_CUES``: CVV CVV2 CVC 安全码 安全碼 security code): 3–4 digits.

   A password must hold a digit or a symbol ("my password is wrong" is no password), unless a
   Chinese connector (是/为/：) introduces it: 「密码是abcdef」 is one. A secret directly followed by
   a unit (年/月/日/元/位/次 …) or by more digits is a date, an amount or a count, not a secret.
   Digits may be full-width (１２３４); in Python's ``re`` ``\\d`` matches them.

2. **Mainland ID numbers** (18 characters, the last may be X): first six and last four kept.
   The check digit is not tested: a mistyped ID is as personal as a correct one.

3. **Card numbers**: 16–19 digits, in one run or in groups (spaces or dashes), masked as
   ``6222 **** **** 7890`` whether or not they pass the Luhn check: a card number with a typo
   gives the card away almost as well, and what else customers write with 16+ digits (a
   transaction serial number) stays recognisable by the first and last four digits. The Luhn
   check would therefore change nothing, and is not made.

4. **Mainland mobile numbers** (11 digits from 13–19, maybe +86 and spaces or dashes): first
   three and last four kept, the form ``bot/core/vault.py`` seals them under (from the text
   before masking: ``mobile_numbers``).

What is never touched: product codes (EG-MM01), complaint and inquiry references
(C20261206-483928), amounts (100000元, 1,000,000), dates, times and NAVs (1.2345). Nor is a
secret written without a cue ("384920" alone): it cannot be told from any other number.
"""

from __future__ import annotations

import logging
import re
from typing import List, Tuple

# 1. Secrets after a cue word --------------------------------------------------------------------

# Cue words, longest first within a kind so that "verification code" wins over "code".
PASSWORD_CUES = ["登录密码", "登錄密碼", "交易密码", "交易密碼", "支付密码", "支付密碼", "密码", "密碼", "口令",
                 "password", "passcode", "passwd", "pwd", "PIN码", "PIN碼", "PIN"]
CODE_CUES = ["短信验证码", "短信驗證碼", "验证码", "驗證碼", "校验码", "校驗碼", "动态码", "動態碼", "短信码", "短信碼",
             "简讯码", "簡訊碼", "one-time code", "one time code", "verification code", "security code", "sms code",
             "text code", "login code", "auth code", "authentication code", "2fa code", "otp", "code"]
CARD_CODE_CUES = ["CVV2", "CVC2", "CVV", "CVC", "CVN", "CID", "安全码", "安全碼", "security code"]
# "code" alone is a one-time code unless one of these words comes right before it.
NOT_SECRET_CODES = {"fund", "product", "postal", "post", "zip", "area", "country", "branch", "bank", "swift", "sort",
                    "promo", "promotion", "discount", "coupon", "referral", "invite", "invitation", "error", "reference",
                    "ref", "tracking", "qr", "share", "stock", "ticker", "tax", "source", "status", "region", "dress"}
# Connectors between a cue and its secret; the Chinese ones also vouch for a letters-only password.
CHINESE_CONNECTORS = r"是|为|為|改成|改为|改為|设为|設為|：|＝"
CONNECTOR = rf"[ \t]*(?:(?P<zh>{CHINESE_CONNECTORS})|is|was|:|=)?[ \t]*[:：]?[ \t]*[\"'“‘「『]?"
# What may not follow a secret: more of it, or a unit that makes it a date, an amount or a count.
AFTER_SECRET = r"(?![0-9A-Za-z０-９Ａ-Ｚａ-ｚ]|\d|[年月日号號时時点點分秒元块塊万萬亿億个個位次%％])"
SYMBOLS = r"!#$%&*+./<=>?@^_~\-"
STARS = "******"


def _cues(words: List[str]) -> str:
    return "|".join(re.escape(word) for word in words)


_PASSWORD = re.compile(
    rf"(?P<cue>{_cues(PASSWORD_CUES)}){CONNECTOR}"
    rf"(?P<secret>[0-9A-Za-z０-９Ａ-Ｚａ-ｚ{SYMBOLS}]{{3,31}}[0-9A-Za-z０-９Ａ-Ｚａ-ｚ]){AFTER_SECRET}",
    re.IGNORECASE)
# A code may come a few words after its cue: "the verification code I just got is 448120",
# 「验证码我刚收到，是384920」.
CODE_GAP = r"(?:(?:[ \t]+[A-Za-z']+){1,5}[ \t]+(?:is|was)\b|[，,]?[\u4e00-\u9fff，,]{1,8}?(?=是|为|為|：|:))?"
_CODE = re.compile(
    rf"(?:\b(?P<before>[A-Za-z]+)[ \t]+)?(?P<cue>{_cues(CODE_CUES)}){CODE_GAP}{CONNECTOR}"
    rf"(?P<secret>[0-9A-Za-z０-９Ａ-Ｚａ-ｚ]{{4,8}}){AFTER_SECRET}",
    re.IGNORECASE)
_CARD_CODE = re.compile(rf"(?P<cue>{_cues(CARD_CODE_CUES)}){CONNECTOR}(?P<secret>\d{{3,4}}){AFTER_SECRET}",
                        re.IGNORECASE)


def _mask_secret(match: re.Match, stars: str = STARS) -> str:
    start, end = match.span("secret")
    return match.string[match.start():start] + stars + match.string[end:match.end()]


def _cue_stands_alone(match: re.Match) -> bool:
    """An English cue must be a word of its own ("pin" in "spinning" is none)."""
    text, start, end = match.string, match.start("cue"), match.end("cue")
    if not match.group("cue")[0].isascii():
        return True
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    return not (before.isascii() and before.isalnum()) and not (after.isascii() and after.isalpha())


def _password(match: re.Match) -> str:
    secret = match.group("secret")
    looks_secret = any(not c.isalpha() for c in secret) or match.group("zh")
    return _mask_secret(match) if looks_secret and _cue_stands_alone(match) else match.group(0)


def _code(match: re.Match) -> str:
    cue, before = match.group("cue").lower(), (match.group("before") or "").lower()
    secret_like = any(c.isdigit() for c in match.group("secret")) and _cue_stands_alone(match)
    if not secret_like or (cue == "code" and before in NOT_SECRET_CODES):
        return match.group(0)
    return _mask_secret(match)


def _card_code(match: re.Match) -> str:
    return _mask_secret(match, "***") if _cue_stands_alone(match) else match.group(0)


# 2–4. Personal numbers --------------------------------------------------------------------------

_ID_CARD = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){15,18}\d(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(?:(?:\+|00)?86[ -]?)?(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?!\d)")


def _card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return f"{digits[:4]} **** **** {digits[-4:]}"


def mask_sensitive(text: str) -> str:
    """``text`` with every secret and personal number masked (module docstring)."""
    text = _CARD_CODE.sub(_card_code, text)
    text = _CODE.sub(_code, text)
    text = _PASSWORD.sub(_password, text)
    text = _ID_CARD.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)
    text = _CARD.sub(_card, text)
    return _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)


def mobile_numbers(text: str) -> List[Tuple[str, str]]:
    """The mobile numbers in ``text`` as (11 digits, masked form), before it is masked."""
    text = _CARD.sub(" ", _ID_CARD.sub(" ", text))  # a card or ID number is no phone number
    return [(m.group(1) + m.group(2) + m.group(3), f"{m.group(1)}****{m.group(3)}") for m in _MOBILE.finditer(text)]


# Logs ---------------------------------------------------------------------------------------------

class MaskingFilter(logging.Filter):
    """Masks a record's message (and its traceback) in place, so that a secret a customer typed,
    logged by our code or by a library, never reaches a log file."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format: left for the handler to report as it would
            return True
        record.msg, record.args = mask_sensitive(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_sensitive(record.exc_text)
        return True


def install_log_masking() -> None:
    """Mask every log record of this process as it is made: a filter on a logger misses the
    records its children propagate, and one on handlers misses handlers added later (Sanic's,
    Rasa SDK's file log), so the filter runs in the record factory. Safe to call twice."""
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "masks", False):
        return
    masking = MaskingFilter()

    def masked_record(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        masking.filter(record)
        return record

    masked_record.masks = True
    logging.setLogRecordFactory(masked_record)
