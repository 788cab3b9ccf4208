"""``make bench``: our assistant against stock Rasa (stock_config.yml) trained on the same data.

Sections: (a) held-out NLU, (b) BANKING77 few-shot, (c) latency and throughput (ours through
the customer path: the contact service's widget API), (d) latency growth over a long
conversation, (e) the same load as (c) through the cluster's nginx (with c), (p) the paraphrase
set (NLU of both, our answers end to end), (t) fraud and urgency triage, (s) the soak: 200
customers through the cluster for 5 minutes. Every figure is given for both assistants with the
ratio ours/stock. Prints the report and writes bench-results/benchmark.md and .json.

Usage: ``python -m tests.benchmark.run [--quick] [--sections a,b,c,d,e,p,t,s]``; a soak of
other sizes is ``python -m tests.benchmark.soak`` (tests/benchmark/soak.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from datetime import datetime
from typing import List, Optional

import rasa
from rasa.utils.log_utils import configure_structlog

from tests.benchmark import banking77, cluster, heldout, load, models, paraphrases, report, triage
from tests.benchmark.report import Section

OUT = models.ROOT / "bench-results"
SECTIONS = "abcdepst"
FULL = {"heldout_limit": None, "per_intent": 10, "banking_intents": None, "plan": load.Plan(), "paraphrase_every": 1,
        "soak": (cluster.SOAK_CUSTOMERS, cluster.SOAK_MINUTES)}
QUICK = {
    "heldout_limit": 30,
    "per_intent": 5,
    "banking_intents": 15,
    "plan": load.Plan(sequential=20, conversations=4, per_conversation=5, long_conversation=60, warmup=3),
    "paraphrase_every": 5,
    "soak": (20, 0.5),
}


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small counts, to try the benchmark out")
    parser.add_argument("--sections", default="a,b,c,d,e,p,t,s", help="comma-separated subset of a,b,c,d,e,p,t,s")
    args = parser.parse_args(argv)
    letters = "".join(s.strip() for s in args.sections.split(","))
    if not letters or set(letters) - set(SECTIONS):
        parser.error(f"--sections takes letters of {','.join(SECTIONS)}, not {args.sections!r}")
    args.sections = letters
    return args


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    counts = QUICK if args.quick else FULL
    configure_structlog(logging.WARNING)
    started = time.monotonic()
    logs = OUT / "logs"
    sections: List[Section] = []
    needs_assistants = set(args.sections) & set("acdes")
    if needs_assistants:
        ours, stock = models.ours(OUT / "models"), models.stock(logs)
    if "a" in args.sections:
        sections.append(heldout.section(ours, stock, counts["heldout_limit"]))
    if "b" in args.sections:
        sections.append(banking77.section(counts["per_intent"], counts["banking_intents"], logs))
    if set(args.sections) & set("cde"):
        # (e) sets the cluster beside (c)'s figures of the same run: it needs them
        measured = load.sections(ours, stock, counts["plan"], args.sections.replace("e", "c"), logs)
        sections += [s for s in measured if s.letter in args.sections]
        if "e" in args.sections:
            sections.append(cluster.section(ours, logs / "cluster", counts["plan"], next(s for s in measured if s.letter == "c")))
    if set(args.sections) & set("pt") and not needs_assistants:
        # Alone, sections p and t train no stock model: they compare with stock only when one is cached.
        ours, stock = models.ours(OUT / "models"), models.cached_stock()
    if "p" in args.sections:
        sections.append(paraphrases.section(ours, stock, logs, counts["paraphrase_every"]))
    if "t" in args.sections:
        sections.append(triage.section(ours, stock))
    if "s" in args.sections:
        sections.append(cluster.soak_section(ours, logs / "soak", *counts["soak"]))
    meta = {
        "finished": datetime.now().isoformat(timespec="seconds"),
        "minutes": (time.monotonic() - started) / 60,
        "cpus": os.cpu_count(),
        "quick": args.quick,
        "sections": args.sections,
        "rasa_version": rasa.__version__,
        "models": {"ours": str(ours), "stock": str(stock) if stock else None}
                   if needs_assistants or "p" in args.sections else {},
    }
    print("\n" + report.write(sections, meta, OUT))
    print(f"Written to {OUT / 'benchmark.md'} and {OUT / 'benchmark.json'}.")


if __name__ == "__main__":
    main()
