"""The staff pages' languages (docs/console.md, "Languages"): one flat message catalogue per
language in ``bot/console/locales/<language>.json`` (``"queue.title": "…"``, ``{name}``
placeholders), read by the browser (``bot/console/static/i18n.js``, served by
bot/console/pages.py) and here, for what the server writes in a staff member's language (the CSV
headers of the quality dashboard).

Customer-facing text is not here: it is in bot/knowledge/ (messages.yml, canned_replies.yml).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict

from bot.core.staff import LANGUAGES

LOCALES = Path(__file__).parent / "locales"
DEFAULT = "zh"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@lru_cache(maxsize=None)
def raw(language: str) -> bytes:
    """The catalogue file of ``language`` (one of :data:`LANGUAGES`), as served to browsers."""
    if language not in LANGUAGES:
        raise KeyError(language)
    return (LOCALES / f"{language}.json").read_bytes()


@lru_cache(maxsize=None)
def catalogue(language: str) -> Dict[str, str]:
    return json.loads(raw(language))


def text(key: str, language: str, /, **params: Any) -> str:
    """The catalogue's text of ``key`` in ``language`` (Simplified Chinese for an unknown one),
    its ``{name}`` placeholders filled from ``params``; a KeyError for a key no catalogue has."""
    template = catalogue(language if language in LANGUAGES else DEFAULT)[key]
    return _PLACEHOLDER.sub(lambda m: str(params[m.group(1)]) if m.group(1) in params else m.group(0), template)


def label(group: str, code: str, language: str) -> str:
    """``text(group + "." + code)``, or the code itself when the catalogue has none (a code added
    later, e.g. a new table column), as i18n.js's ``label``."""
    try:
        return text(f"{group}.{code}", language)
    except KeyError:
        return code
