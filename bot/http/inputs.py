"""What the contact service accepts from a request, in one place (docs/contact-api.md, "Limits").

Every JSON body and WebSocket frame is read by :func:`json_object`, every number in a query
string or a path by :func:`whole_number` or :func:`record_id`. They refuse what would otherwise
fail deeper down (a 500 or a dropped socket) with :class:`InvalidInput`, which the app answers
as ``400 invalid_request`` naming what was wrong:

- JSON: at most ``max_bytes``, UTF-8, nested at most ``MAX_DEPTH`` levels (checked before
  parsing: Python's parser recurses, so 20,000 brackets raise RecursionError), no NaN or
  Infinity, no integer beyond 64 bits (no database column holds it);
- numbers in URLs: ASCII digits only (``int()`` would take ``" 1_0"`` or Arabic-Indic digits),
  in a stated range; ids are 1 to 2^63 - 1, the range of a database id;
- strings: a lone surrogate (``"\\ud800"`` in JSON) cannot be encoded for either database, and
  PostgreSQL refuses NUL. Every string of a JSON body, member names included, is made storable
  the same way by :func:`clean_text`, whatever it is (a message, an id, a token): one rule for
  every route, channel and database, and a body is never refused for its characters. The values
  of a query string are names and numbers: one holding a control character is refused.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Optional, Tuple, Union

from websockets.connection import OPEN
from websockets.datastructures import Headers
from websockets.http11 import Request as Handshake
from websockets.server import ServerConnection

MAX_ID = 2 ** 63 - 1  # the largest id a database column holds (signed 64 bits)
MIN_INT = -(2 ** 63)
MAX_DEPTH = 32  # a Telegram update nests about 8 levels; the customer API's bodies 2
MAX_BODY_BYTES = 64 * 1024  # a request body or a WebSocket frame (the app sets Sanic's limits to it)

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode's Cc: C0, DEL, C1
# What clean_text replaces: Cc but tab, line feed and carriage return; lone surrogates.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_DIGITS = re.compile(r"[0-9]{1,19}")
# A JSON string (to its end, or to the end of the text when it is not closed) or a bracket:
# every token is consumed once, so the scan is linear whatever the input.
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)


class InvalidInput(ValueError):
    """A request the service will not read; the message says why (the app answers 400)."""


def clean_text(text: str) -> str:
    """``text`` made storable and showable the same way on every channel and database: each
    control character but tab and line ends, and each lone surrogate, becomes U+FFFD (as a
    browser does with a lone surrogate it turns into text). The length stays the same, so the
    limits mean what they say, and an id never turns into another one."""
    return _UNSTORABLE.sub("\ufffd", text)


def check_query_value(value: str, name: str) -> None:
    """InvalidInput if a query string's value holds a control character (its bytes are decoded
    with replacement, so it holds no surrogate)."""
    if _CONTROLS.search(value):
        raise InvalidInput(f"{name} must not contain control characters.")


def json_object(raw: Union[bytes, str], max_bytes: int = MAX_BODY_BYTES, what: str = "The body") -> dict:
    """A JSON object read from a request body or a WebSocket frame, its strings cleaned (module
    docstring); ``what`` names it in the InvalidInput messages."""
    if isinstance(raw, bytes):
        if len(raw) > max_bytes:
            raise InvalidInput(f"{what} is larger than {max_bytes} bytes.")
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"{what} is not valid UTF-8.") from None
    elif len(raw) > max_bytes:  # characters: at least as many bytes
        raise InvalidInput(f"{what} is larger than {max_bytes} bytes.")
    _check_depth(raw, what)
    try:
        value = json.loads(raw, parse_constant=_no_constant, parse_int=_int64, parse_float=_finite)
    except InvalidInput:
        raise
    except ValueError:  # JSONDecodeError, or an integer too long for int() (over 4300 digits)
        raise InvalidInput(f"{what} is not valid JSON.") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be a JSON object.")
    return _cleaned(value)


def whole_number(value: Optional[str], name: str, default: int, low: int, high: int) -> int:
    """A number from a query string: ``default`` when absent, else ASCII digits in low–high."""
    if value is None or value == "":
        return default
    if not _DIGITS.fullmatch(value) or not low <= int(value) <= high:
        raise InvalidInput(f"{name} must be a whole number from {low} to {high}.")
    return int(value)


def record_id(value: Union[int, str], name: str) -> int:
    """A database id from a path (Sanic's ``<name:int>`` gives an int of any size, even negative)."""
    return whole_number(str(value), name, 0, 1, MAX_ID)


def websocket_refusal(path: str, headers: Iterable[Tuple[str, str]]) -> Optional[Tuple[int, str]]:
    """(status, reason) when a request to a WebSocket route is no valid handshake, by the
    websockets library's own check (426 without the upgrade, else 400); ``None`` for a valid one.
    Sanic answers every handshake that library refuses with a bare 500."""
    answer = ServerConnection(state=OPEN).accept(Handshake(path, Headers(headers)))
    return None if answer.status_code == 101 else (answer.status_code, answer.body.decode(errors="replace").strip())


def _check_depth(text: str, what: str) -> None:
    depth = 0
    for token in _STRING_OR_BRACKET.finditer(text):
        bracket = token.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                raise InvalidInput(f"{what} is nested more than {MAX_DEPTH} levels deep.")
        elif bracket in ("]", "}"):
            depth -= 1


def _no_constant(name: str) -> Any:
    raise InvalidInput(f"{name} is not a number JSON allows.")


def _int64(digits: str) -> int:
    number = int(digits)
    if not MIN_INT <= number <= MAX_ID:
        raise InvalidInput("Integers must fit in 64 bits.")
    return number


def _finite(digits: str) -> float:
    number = float(digits)
    if number in (float("inf"), float("-inf")):
        raise InvalidInput("Numbers must be finite.")
    return number


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(key): _cleaned(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_cleaned(item) for item in value]
    return value
