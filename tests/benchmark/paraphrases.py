"""(p) The paraphrase set (tests/paraphrases/paraphrases.yml): questions worded as customers word
them, which neither model trains on.

NLU of both models (each text parsed alone): the intent, FAQ topic included, and the product
code of entries that mean one product. Then our whole assistant end to end (model and actions
over the REST channel, one new conversation per question), judged as in ``make test``
(tests/paraphrases/paraphrase_set.py): right product, every expected fact, the customer's
language, the risk disclosure where required, and a question with buttons when a type fits
several products.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

from bot.launcher import Assistant
from tests.benchmark import heldout, models
from tests.benchmark.report import Row, Section
from tests.paraphrases.paraphrase_set import Paraphrase, Summary, load, run
from tests.support.ports import free_port

LANGUAGES = ("zh", "en", "mixed")


def _products(parse: Dict[str, Any]) -> set:
    return {e["value"] for e in parse.get("entities") or [] if e["entity"] == "product"}


def _share(rights: Iterable[bool]) -> Optional[float]:
    rights = list(rights)
    return sum(rights) / len(rights) if rights else None


def nlu_scores(paraphrases: Sequence[Paraphrase], parses: Sequence[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """Per language and overall: intent accuracy over every entry, and product-code accuracy over
    the entries that mean one product (right when the product entities are exactly that code)."""
    scores = {}
    for lang in (*LANGUAGES, "overall"):
        pairs = [(p, parse) for p, parse in zip(paraphrases, parses) if lang in ("overall", p.lang)]
        with_product = [(p, parse) for p, parse in pairs if p.product]
        confusions = Counter(f"{p.intent} → {heldout.predicted(parse)}" for p, parse in pairs
                             if heldout.predicted(parse) != p.intent)
        scores[lang] = {
            "examples": len(pairs),
            "intent_accuracy": _share(heldout.predicted(parse) == p.intent for p, parse in pairs),
            "with_product": len(with_product),
            "product_accuracy": _share(_products(parse) == {p.product} for p, parse in with_product),
            "top_confusions": confusions.most_common(8),
        }
    return scores


def answers(model: Path, paraphrases: Sequence[Paraphrase], log_dir: Path) -> Summary:
    """Our assistant's end-to-end answers (a new SQLite database for its trackers)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    service = {"DATABASE_URL": f"sqlite:///{log_dir / f'paraphrases-{time.time_ns()}.db'}",
               "EVERGREEN_CLOCK": "2026-11-30T10:00:00+08:00"}
    with Assistant(model, free_port(), free_port(), log_dir, service_env=service) as assistant:
        return run(assistant.rasa_url, paraphrases)


def section(ours: Path, stock: Optional[Path], log_dir: Path, every: int = 1) -> Section:
    """``stock`` None: stock Rasa is not trained (and not trained here), only ours is reported.
    ``every`` > 1 takes every n-th entry (a quick run)."""
    started = time.monotonic()
    paraphrases: List[Paraphrase] = load()[::every]
    texts = [p.text for p in paraphrases]
    print(f"(p) paraphrase set: parsing {len(texts)} messages, then asking our assistant...", flush=True)
    nlu = {"ours": nlu_scores(paraphrases, models.parse(ours, texts))}
    if stock:
        nlu["stock"] = nlu_scores(paraphrases, models.parse(stock, texts))
    summary = answers(ours, paraphrases, log_dir / "paraphrases")

    def nlu_row(name: str, lang: str, metric: str, count: str, headline: bool = False) -> Row:
        label = f"{name}, {lang} ({nlu['ours'][lang][count]} messages)"
        stock_value = nlu["stock"][lang][metric] if stock else None
        return Row(label, nlu["ours"][lang][metric], stock_value, "%", "higher", headline)

    langs = [*LANGUAGES, "overall"]
    rows = [nlu_row("Intent accuracy", lang, "intent_accuracy", "examples", lang == "overall") for lang in langs]
    rows += [nlu_row("Product-code accuracy", lang, "product_accuracy", "with_product", lang == "overall")
             for lang in langs]
    counts = Counter(p.lang for p in paraphrases)
    rows += [Row(f"Answered right end to end, {lang} ({counts[lang]} messages)", summary.rate(lang), None, "%",
                 "higher") for lang in LANGUAGES]
    rows.append(Row(f"Answered right end to end, overall ({len(paraphrases)} messages)", summary.rate(), None, "%",
                    "higher", headline=True))
    notes = [
        "Intent: an FAQ question counts as right only with its topic (`faq/<topic>`); `nlu_fallback` is wrong. "
        "Product code: over the entries that mean one product, right when the message's product entities are "
        "exactly its code; entries whose type fits several products (bond: EG-BD02, EG-FX06) are left out.",
        "End to end (ours only): model and actions over the REST channel, one new conversation per message, "
        "judged as in `make test` (tests/paraphrases/paraphrase_set.py); the target is 97%.",
        "End to end by wording: " + ", ".join(f"{how} {ok}/{n}" for how, (ok, n) in summary.by(lambda p: p.how).items()) + ".",
        "End-to-end failures by kind: " + (", ".join(f"{kind} ×{n}" for kind, n in summary.failure_kinds().most_common())
                                          or "none") + ".",
    ]
    if not stock:
        notes.append("Stock Rasa's model was not in the cache, so only ours is reported (stock takes ~20 minutes "
                     "to train; a run with section a, c or d trains it).")
    for model in nlu:
        confusions = ", ".join(f"{pair} ×{n}" for pair, n in nlu[model]["overall"]["top_confusions"][:5])
        notes.append(f"Most frequent intent errors, {model}: {confusions or 'none'}.")
    details = {"nlu": nlu, "end_to_end": {
        "rate": {lang: summary.rate(lang) for lang in LANGUAGES} | {"overall": summary.rate()},
        "failure_kinds": dict(summary.failure_kinds()),
        "failures": [{"text": v.paraphrase.text, "expected": v.paraphrase.intent, "product": v.paraphrase.product,
                      "understood": v.reply.understood, "problems": v.problems, "reply": v.reply.text}
                     for v in summary.verdicts if not v.passed],
    }}
    return Section("p", "paraphrases", "Paraphrase set (tests/paraphrases/paraphrases.yml)", rows, notes, details,
                   time.monotonic() - started)
