"""Loads the knowledge files in ``bot/knowledge/``.

Files are re-read when they change on disk, so a new NAV, fee or market brief takes effect on
the next message without retraining or restarting the action server.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Dict, Tuple

import yaml

KNOWLEDGE_DIR = Path(os.environ.get("EVERGREEN_KNOWLEDGE_DIR", Path(__file__).parent / "knowledge"))

_cache: Dict[str, Tuple[float, Any]] = {}
_lock = threading.Lock()


def load(name: str) -> Any:
    """Return the parsed content of ``<name>.yml``, re-reading it if its mtime changed."""
    path = KNOWLEDGE_DIR / f"{name}.yml"
    mtime = path.stat().st_mtime
    with _lock:
        cached = _cache.get(name)
        if cached and cached[0] == mtime:
            return cached[1]
    with path.open(encoding="utf-8") as handle:
        content = yaml.safe_load(handle)
    with _lock:
        _cache[name] = (mtime, content)
    return content


def message(key: str, language: str, **values: Any) -> str:
    """A customer-facing message from ``messages.yml`` in ``language``, formatted with ``values``."""
    template = load("messages")[key][language]
    return template.format(**values) if values else template


def risk_disclosure(language: str) -> str:
    """The mandatory risk disclosure (spec 7.3.1) in ``language``."""
    return load("products")["risk_disclosure"][language]
