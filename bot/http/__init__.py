"""The web toolkit the HTTP front ends share: the error body, request inputs, client addresses,
security headers, and the browser helpers of the widget, the console and the dashboard."""

from pathlib import Path

# The fetch helper, error reading and labels of the three browser front ends, served by the web
# channel at /static/shared.js and by the console at /console/static/shared.js (one file).
SHARED_SCRIPT = Path(__file__).parent / "static" / "shared.js"
