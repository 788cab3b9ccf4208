"""Staff accounts and what they did: the staff command (``python -m bot.server.staff``) run as
an operator runs it, and the audit log's rows."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import List, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.audit import AuditEntry
from tests.support.system import ROOT


def staff_command(database_url: str, *args: str, password: Optional[str] = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if password is not None:
        env["STAFF_PASSWORD"] = password
    return subprocess.run([sys.executable, "-m", "bot.server.staff", *args, "--database-url", database_url],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def audit_rows(database, action: str, target: Optional[str] = None, actor: Optional[str] = None) -> List[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    if target:
        query = query.where(AuditEntry.target == target)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    with Session(database) as session:
        return list(session.execute(query).scalars())
