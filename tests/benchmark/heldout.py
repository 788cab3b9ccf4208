"""(a) Held-out NLU: intents and entities on tests/nlu/heldout_*.yml, which neither model trains on."""

from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional

from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message

from tests.benchmark import models
from tests.benchmark.report import Row, Section

HELDOUT = {lang: models.ROOT / "tests" / "nlu" / f"heldout_{lang}.yml" for lang in ("zh", "en", "mixed")}
ENTITY_TYPES = {"product", "city"}
FALLBACK = "nlu_fallback"


def load_examples(limit: Optional[int] = None) -> Dict[str, List[Message]]:
    """Held-out examples per language; with ``limit``, an evenly spread subset of each file."""
    examples = {lang: load_data(str(path)).intent_examples for lang, path in HELDOUT.items()}
    if limit:
        examples = {lang: found[:: max(1, math.ceil(len(found) / limit))] for lang, found in examples.items()}
    return examples


def _label(parse: Dict[str, Any], intent: str) -> Optional[str]:
    """``intent``, or for ``faq`` the full key of the chosen topic ("faq/fees").

    Stock Rasa's ResponseSelector (no ``retrieval_intent`` set) reports its choice under
    "default", ours under "faq"; both are read, as Rasa's own retrieval action does.
    """
    if intent != "faq":
        return intent
    selector = parse.get("response_selector") or {}
    chosen = selector.get("faq") or selector.get("default") or {}
    return (chosen.get("response") or {}).get("intent_response_key")


def predicted(parse: Dict[str, Any]) -> Optional[str]:
    return _label(parse, parse["intent"]["name"])


def predicted_ignoring_fallback(parse: Dict[str, Any]) -> Optional[str]:
    """The label of the best intent other than nlu_fallback."""
    ranking = [r["name"] for r in parse.get("intent_ranking") or [] if r["name"] != FALLBACK]
    return _label(parse, ranking[0] if ranking else parse["intent"]["name"])


def _entities(entities: Optional[List[Dict[str, Any]]]) -> set:
    return {(e["entity"], e["value"]) for e in entities or [] if e["entity"] in ENTITY_TYPES}


def score(examples: List[Message], parses: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Intent accuracy (with and without the fallback) and product/city precision and recall."""
    right = right_ignoring_fallback = fallbacks = expected = found = correct = 0
    confusions: Counter = Counter()
    for example, parse in zip(examples, parses):
        want, got = example.get_full_intent(), predicted(parse)
        right += got == want
        right_ignoring_fallback += predicted_ignoring_fallback(parse) == want
        fallbacks += parse["intent"]["name"] == FALLBACK
        if got != want:
            confusions[f"{want} → {got}"] += 1
        want_entities, got_entities = _entities(example.get("entities")), _entities(parse.get("entities"))
        expected, found = expected + len(want_entities), found + len(got_entities)
        correct += len(want_entities & got_entities)
    n = len(examples)
    precision = correct / found if found else None
    recall = correct / expected if expected else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else (0.0 if expected else None)
    return {
        "examples": n,
        "intent_accuracy": right / n,
        "accuracy_ignoring_fallback": right_ignoring_fallback / n,
        "fallback_rate": fallbacks / n,
        "entities_expected": expected,
        "entities_found": found,
        "entity_precision": precision,
        "entity_recall": recall,
        "entity_f1": f1,
        "top_confusions": confusions.most_common(8),
    }


def _scores(model: Path, examples: Dict[str, List[Message]]) -> Dict[str, Dict[str, Any]]:
    everything = [e for found in examples.values() for e in found]
    parses = models.parse(model, [e.get("text") for e in everything])
    by_lang, start = {}, 0
    for lang, found in examples.items():
        by_lang[lang] = score(found, parses[start : start + len(found)])
        start += len(found)
    by_lang["overall"] = score(everything, parses)
    return by_lang


def section(ours: Path, stock: Path, limit: Optional[int]) -> Section:
    started = time.monotonic()
    examples = load_examples(limit)
    print(f"(a) held-out NLU: parsing {sum(map(len, examples.values()))} messages with each model...", flush=True)
    scores = {"ours": _scores(ours, examples), "stock": _scores(stock, examples)}

    def row(name: str, lang: str, metric: str, better: str = "higher", headline: bool = False) -> Row:
        of_entities = metric.startswith("entity")
        count = scores["ours"][lang]["entities_expected" if of_entities else "examples"]
        label = f"{name}, {lang} ({count} {'entities' if of_entities else 'messages'})"
        return Row(label, scores["ours"][lang][metric], scores["stock"][lang][metric], "%", better, headline)

    langs = [*examples, "overall"]
    rows = [row("Intent accuracy", lang, "intent_accuracy", headline=lang == "overall") for lang in langs]
    rows += [row("Top intent ignoring fallback", lang, "accuracy_ignoring_fallback") for lang in langs]
    rows.append(row("Turned into nlu_fallback", "overall", "fallback_rate", better="lower"))
    rows += [row(f"Entity {name}", "overall", metric, headline=metric == "entity_f1")
             for name, metric in (("precision", "entity_precision"), ("recall", "entity_recall"), ("F1", "entity_f1"))]
    rows += [row("Entity F1", lang, "entity_f1") for lang in examples]
    notes = [
        "An FAQ example counts as right only when the intent is `faq` and the response selector picks its "
        "topic (`faq/<topic>`); `nlu_fallback` counts as wrong. \"Ignoring fallback\" takes the best intent "
        "of `intent_ranking` other than `nlu_fallback`.",
        "Entities match on type and value (the canonical product code / city), per message.",
        "Stock Rasa's ResponseSelector reports its topic under `response_selector['default']` (it has no "
        "`retrieval_intent`), ours under `['faq']`; both are read here, as Rasa's retrieval action does. "
        "The project's `action_answer_faq` reads only `['faq']`.",
    ]
    for model in ("ours", "stock"):
        confusions = ", ".join(f"{pair} ×{count}" for pair, count in scores[model]["overall"]["top_confusions"][:5])
        notes.append(f"Most frequent errors, {model}: {confusions or 'none'}.")
    return Section("a", "heldout_nlu", "Held-out NLU (tests/nlu/heldout_*.yml)", rows, notes, scores,
                   time.monotonic() - started)
