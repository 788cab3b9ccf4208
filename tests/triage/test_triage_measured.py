"""Precision and recall of "urgent" as the assistant decides it, on tests/triage/labelled.yml.

Needs the trained model (``make train``): each message is masked as the contact service masks
it and parsed by the full NLU pipeline; it is urgent when the intent comes out ``report_fraud``
(what starts the emergency process). Issue #15 asks for precision ≥ 0.95 and recall ≥ 0.98.
"""

from pathlib import Path

import pytest
from rasa.shared.nlu.training_data.loading import load_data

from bot.complaints import triage
from bot.privacy import mask_sensitive
from tests.benchmark.triage import FRAUD_INTENT, by_language, intents, load_labelled

ROOT = Path(__file__).resolve().parent.parent.parent
MODEL = ROOT / "models" / "current.tar.gz"
EXAMPLES = load_labelled()


@pytest.fixture(scope="module")
def parsed():
    return intents(MODEL, EXAMPLES)


def test_the_set_is_large_and_covers_both_languages_and_every_label():
    assert len(EXAMPLES) >= 200
    for language in ("zh", "en", "mixed"):
        for label in ("urgent", "secret_offered", "angry", "none"):
            assert any(e.language == language and e.label == label for e in EXAMPLES), (language, label)


def test_no_labelled_message_is_in_the_training_data():
    training_files = sorted((ROOT / "data" / "nlu").glob("*.yml")) + sorted((ROOT / "tests" / "nlu").glob("heldout_*.yml"))
    training = {ex.get("text").strip().lower() for f in training_files for ex in load_data(str(f)).intent_examples}
    for example in EXAMPLES:
        assert example.text.strip().lower() not in training
        assert mask_sensitive(example.text).strip().lower() not in training


def test_urgent_precision_and_recall(parsed):
    scores = by_language(EXAMPLES, [intent == FRAUD_INTENT for intent in parsed])
    for language, score in scores.items():
        print(f"\n{language}: {score.describe()}")
    overall = scores["overall"]
    assert overall.precision >= 0.95, overall.describe()
    assert overall.recall >= 0.98, overall.describe()


def test_every_offered_secret_gets_the_warning_and_no_complaint(parsed):
    wrong = [(e.text, intent) for e, intent in zip(EXAMPLES, parsed)
             if e.label == "secret_offered" and intent != "security_advice"]
    assert not wrong


def test_no_insult_is_taken_for_fraud(parsed):
    alarms = [e.text for e, intent in zip(EXAMPLES, parsed) if e.label == "angry" and intent == FRAUD_INTENT]
    assert not alarms


def test_the_rules_alone_agree_with_the_labels_on_most_messages():
    """Without the classifier (the email channel when the assistant is down) triage still
    catches nearly every urgent message and raises no false alarm."""
    decided = [triage.decide(mask_sensitive(e.text)).urgent for e in EXAMPLES]
    overall = by_language(EXAMPLES, decided)["overall"]
    print("\nrules alone:", overall.describe())
    assert overall.precision >= 0.95 and overall.recall >= 0.95, overall.describe()
