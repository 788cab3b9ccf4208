"""Soak: many customers, each writing every 8–12 s for some minutes, against a running system's
widget API; it must end with 0 errors, 0 lost and 0 duplicated messages.

``python -m tests.benchmark.soak --customers 20 --minutes 1`` starts the embedded system (SQLite,
one process of each kind) and soaks it; ``--base-url URL`` soaks a system already running (a
cluster behind its proxy: raise its CONTACT_MESSAGES_PER_MINUTE and CONTACT_SESSIONS_PER_MINUTE,
or give the benchmark's address room, as tests.benchmark.load.UNLIMITED does). Prints the result
as JSON; exits 1 on any error, lost or duplicated message.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

from bot.launcher import Assistant
from tests.benchmark import load, models
from tests.support.ports import free_port


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", help="a running system's contact service or proxy; default: start the embedded one")
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=1.0)
    args = parser.parse_args(argv)
    if args.base_url:
        result = load.soak(args.base_url, args.customers, args.minutes)
    else:
        work = Path(tempfile.mkdtemp(prefix="soak-"))
        env = {"DATABASE_URL": f"sqlite:///{work / 'contact.db'}", **load.UNLIMITED}
        model = models.ours(models.ROOT / "bench-results" / "models")
        with Assistant(model, free_port(), free_port(), work, contact_port=free_port(), service_env=env) as system:
            result = load.soak(system.contact_url, args.customers, args.minutes)
        result["logs"] = str(work)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    sys.exit(1 if result["errors"] or result["lost"] or result["duplicated"] else 0)


if __name__ == "__main__":
    main()
