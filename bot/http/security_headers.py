"""Security headers of what the contact service serves to browsers.

**Our own pages** (the demo website, the agent console): a Content-Security-Policy that runs only
our own scripts and styles (no inline script or style, nothing from other hosts, no plugins),
connects only back to us, and forbids framing (clickjacking), with ``X-Frame-Options`` for
browsers that predate ``frame-ancestors``. Even if customer or agent text ever reached a page as
markup, no script in it could run. No referrer leaves the pages, and nothing is sniffed.

**The widget's files** (``/static/``): other sites load ``widget.js`` and ``widget.css`` into
their own pages, so these must stay loadable from any origin (``Cross-Origin-Resource-Policy:
cross-origin``); what runs there is governed by the host page's own policy (docs/contact-api.md,
"Embedding"). Opened directly, a file is never sniffed into something else and runs nothing.
"""

from __future__ import annotations

from typing import Dict

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
PAGES: Dict[str, str] = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
EMBEDDED_FILES: Dict[str, str] = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "cross-origin",
}


def pages(cache: str = "no-cache") -> Dict[str, str]:
    """Headers of one of our pages; ``no-cache``: browsers revalidate, so a new version is picked
    up at once."""
    return {**PAGES, "Cache-Control": cache}
