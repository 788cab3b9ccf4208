"""(t) Fraud and urgency triage: precision and recall of "urgent" on tests/triage/labelled.yml.

"Urgent" is what the product does with a chat message: the contact service masks secrets
(bot/privacy.py), the model parses the text, and the message is urgent when its intent comes
out ``report_fraud`` (action_report_fraud files the urgent complaint; the NLU's last component,
bot/nlu/triage_override.py, sets that intent exactly when triage says urgent). Stock Rasa's
"urgent" is the same intent on the stock model; the assistant before issue #15 is given in the
notes: its word list (below), or the intent ``report_fraud`` of its model.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

from bot.privacy import mask_sensitive
from tests.benchmark import models
from tests.benchmark.report import Row, Section

LABELLED = models.ROOT / "tests" / "triage" / "labelled.yml"
URGENT = "urgent"
FRAUD_INTENT = "report_fraud"
# bot/knowledge/complaints.yml ``urgent_words`` before issue #15: any of them made a complaint
# description or an email urgent.
OLD_URGENT_WORDS = [
    "盗刷", "被盗", "盗号", "被骗", "诈骗", "骗子", "不是我操作", "不是本人操作", "陌生设备", "被人登录", "账户被盗", "钱被转走",
    "钱不见了", "资金被转", "被转走", "莫名其妙转出", "要自杀", "不想活", "跳楼", "杀了", "报复", "同归于尽", "fraud", "scam", "stolen",
    "hacked", "hijack", "someone logged in", "unauthorised", "unauthorized", "not me who", "didn't make this", "money is gone",
    "money disappeared", "transferred out without", "kill myself", "suicide", "hurt someone", "kill you", "revenge",
]


@dataclass(frozen=True)
class Labelled:
    text: str
    label: str  # urgent | secret_offered | angry | none
    language: str  # zh | en | mixed

    @property
    def urgent(self) -> bool:
        return self.label == URGENT


def load_labelled(path: Path = LABELLED) -> List[Labelled]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Labelled(text, label, language) for label, by_language in data.items()
            for language, texts in by_language.items() for text in texts]


def old_word_list_urgent(text: str) -> bool:
    """The triage before issue #15: any urgent word, Chinese anywhere, English as a whole word."""
    lowered = text.lower()
    return any(re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", lowered) if word.isascii() else word in text
               for word in OLD_URGENT_WORDS)


def intents(model: Path, examples: List[Labelled]) -> List[str]:
    """The intent each (masked) message gets from ``model``, as in the running assistant."""
    return [parse["intent"]["name"] for parse in models.parse(model, [mask_sensitive(e.text) for e in examples])]


@dataclass
class Score:
    precision: Optional[float]
    recall: Optional[float]
    f1: Optional[float]
    false_alarms: List[Labelled]
    missed: List[Labelled]

    def describe(self) -> str:
        def figure(value: Optional[float]) -> str:
            return "–" if value is None else f"{value:.3f}"

        lines = [f"precision {figure(self.precision)}, recall {figure(self.recall)}, F1 {figure(self.f1)}"]
        lines += [f"  false alarm ({e.label}, {e.language}): {e.text}" for e in self.false_alarms]
        lines += [f"  missed ({e.language}): {e.text}" for e in self.missed]
        return "\n".join(lines)


def score(examples: List[Labelled], decided_urgent: List[bool]) -> Score:
    pairs = list(zip(examples, decided_urgent))
    true_positives = sum(1 for e, urgent in pairs if urgent and e.urgent)
    false_alarms = [e for e, urgent in pairs if urgent and not e.urgent]
    missed = [e for e, urgent in pairs if not urgent and e.urgent]
    flagged, actual = true_positives + len(false_alarms), true_positives + len(missed)
    precision = true_positives / flagged if flagged else None
    recall = true_positives / actual if actual else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    return Score(precision, recall, f1, false_alarms, missed)


def by_language(examples: List[Labelled], decided: List[bool]) -> Dict[str, Score]:
    scores = {"overall": score(examples, decided)}
    for language in ("zh", "en", "mixed"):
        chosen = [(e, d) for e, d in zip(examples, decided) if e.language == language]
        scores[language] = score([e for e, _ in chosen], [d for _, d in chosen])
    return scores


def _rows(ours: Dict[str, Score], stock: Optional[Dict[str, Score]], counts: Dict[str, Tuple[int, int]]) -> List[Row]:
    rows = []
    for language, ours_score in ours.items():
        stock_score = stock[language] if stock else None
        urgent, total = counts[language]
        for name in ("precision", "recall", "f1"):
            rows.append(Row(f"Urgent {name if name != 'f1' else 'F1'}, {language} ({urgent} urgent of {total})",
                            getattr(ours_score, name), getattr(stock_score, name) if stock_score else None, "%",
                            "higher", headline=language == "overall" and name != "f1"))
    return rows


def section(ours_model: Path, stock_model: Optional[Path]) -> Section:
    started = time.monotonic()
    examples = load_labelled()
    print(f"(t) triage: parsing {len(examples)} labelled messages...", flush=True)
    ours = by_language(examples, [intent == FRAUD_INTENT for intent in intents(ours_model, examples)])
    stock = by_language(examples, [intent == FRAUD_INTENT for intent in intents(stock_model, examples)]) \
        if stock_model else None
    old = score(examples, [old_word_list_urgent(mask_sensitive(e.text)) for e in examples])
    counts = {language: (sum(e.urgent for e in chosen), len(chosen)) for language, chosen in
              [("overall", examples)] + [(lang, [e for e in examples if e.language == lang]) for lang in ("zh", "en", "mixed")]}
    notes = [
        "Ours: the message is urgent when the full NLU pipeline gives `report_fraud` (set by "
        "bot/nlu/triage_override.py exactly when bot/complaints/triage.py decides urgent). Stock: intent "
        "`report_fraud` on stock Rasa trained on the same data" + ("." if stock_model else " (not run: the "
        "stock model is trained only with sections a, c or d)."),
        f"The word list before issue #15 (any of its words urgent): {old.describe().splitlines()[0]}.",
        "Targets (issue #15): precision ≥ 0.95, recall ≥ 0.98.",
        "Errors, ours: " + ("; ".join(f"{'false alarm' if not e.urgent else 'missed'}: {e.text}"
                                       for e in ours["overall"].false_alarms + ours["overall"].missed) or "none") + ".",
    ]
    details = {"ours": {k: v.__dict__ | {"false_alarms": [e.text for e in v.false_alarms], "missed": [e.text for e in v.missed]}
                        for k, v in ours.items()},
               "old_word_list": {"precision": old.precision, "recall": old.recall, "f1": old.f1}}
    return Section("t", "triage", f"Fraud and urgency triage (tests/triage/labelled.yml, {len(examples)} messages)",
                   _rows(ours, stock, counts), notes, details, time.monotonic() - started)
