"""A clock the running system reads (``EVERGREEN_CLOCK_FILE``, bot/service_hours.py) that a test
stops, moves or lets run: to cross 21:00 for real, or to let a minute pass at once."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta
from pathlib import Path


class Clock:
    def __init__(self, path: Path, at: str):
        self.path = path
        self.stop_at(datetime.fromisoformat(at))

    @property
    def env(self) -> dict:
        """What the system's processes need to read this clock."""
        return {"EVERGREEN_CLOCK_FILE": str(self.path)}

    def now(self) -> datetime:
        setting = json.loads(self.path.read_text())
        at = datetime.fromisoformat(setting["at"])
        return at + timedelta(seconds=time.time() - setting["since"]) if setting["since"] is not None else at

    def stop_at(self, at: datetime) -> None:
        self._write(at, None)

    def run_from(self, at: datetime) -> None:
        """The clock shows ``at`` now and runs on."""
        self._write(at, time.time())

    def forward(self, seconds: float) -> None:
        """Move the (stopped) clock on by ``seconds``."""
        self.stop_at(self.now() + timedelta(seconds=seconds))

    def _write(self, at: datetime, since) -> None:
        draft = self.path.with_suffix(".draft")
        draft.write_text(json.dumps({"at": at.isoformat(), "since": since}))
        os.replace(draft, self.path)  # a reader never sees half a file
