"""(b) BANKING77 few-shot: both NLU pipelines trained on 10 examples per intent, tested on test.csv.

The data stays in a temporary directory; it never enters the project's training data.
"""

from __future__ import annotations

import csv
import random
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from tests.benchmark import models
from tests.benchmark.report import Row, Section

DATA = Path("/work/shared/datasets/banking77")
SEED = 42
PUBLISHED = {"USE+ConveRT": 0.852, "BERT": 0.834}  # Casanueva et al. 2020, Table 3, 10 per intent

Example = Tuple[str, str]


def read(path: Path) -> List[Example]:
    with open(path, newline="", encoding="utf-8") as file:
        return [(row["text"], row["category"]) for row in csv.DictReader(file)]


def few_shot(examples: List[Example], intents: List[str], per_intent: int, seed: int = SEED) -> List[Example]:
    """``per_intent`` examples of each of ``intents``, drawn with a fixed seed."""
    rng = random.Random(seed)
    by_intent: Dict[str, List[Example]] = defaultdict(list)
    for example in examples:
        by_intent[example[1]].append(example)
    return [chosen for intent in intents for chosen in rng.sample(by_intent[intent], per_intent)]


def write_nlu(examples: List[Example], path: Path) -> None:
    messages = [Message.build(text=text, intent=intent) for text, intent in examples]
    path.write_text(TrainingData(training_examples=messages).nlu_as_yaml(), encoding="utf-8")


def accuracy(model: Path, test: List[Example]) -> float:
    parses = models.parse(model, [text for text, _ in test])
    return sum(p["intent"]["name"] == intent for p, (_, intent) in zip(parses, test)) / len(test)


def section(per_intent: int, intent_limit: Optional[int], log_dir: Path) -> Section:
    """Few-shot accuracy; with ``intent_limit``, only the first intents (alphabetically), for quick runs."""
    started = time.monotonic()
    train_all = read(DATA / "train.csv")
    intents = sorted({intent for _, intent in train_all})[:intent_limit]
    train = few_shot(train_all, intents, per_intent)
    test = [example for example in read(DATA / "test.csv") if example[1] in intents]
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-banking77-") as tmp:
        work_dir = Path(tmp)
        write_nlu(train, work_dir / "nlu.yml")
        for name, config in (("ours", models.OUR_CONFIG), ("stock", models.STOCK_CONFIG)):
            model = models.train_nlu_only(config, work_dir / "nlu.yml", work_dir, f"banking77-{name}", log_dir)
            print(f"(b) BANKING77: parsing {len(test)} test messages with {name}...", flush=True)
            results[name] = accuracy(model, test)
    rows = [Row(f"BANKING77 accuracy, {per_intent} per intent × {len(intents)} intents, {len(test)} test messages",
                results["ours"], results["stock"], "%", "higher", headline=True)]
    published = "; ".join(
        f"{name} {100 * value:.1f}% (ours {100 * (results['ours'] - value):+.1f} pts)" for name, value in PUBLISHED.items()
    )
    notes = [
        f"Trained on {len(train)} examples ({per_intent} per intent × {len(intents)} intents, seed {SEED}) from train.csv; "
        "pipelines of config.yml and stock_config.yml without ResponseSelector and FallbackClassifier.",
        f"Published, 10 per intent (Casanueva et al. 2020, Table 3): {published}. "
        "/work/shared/datasets/README.md measured multilingual USE + logistic regression at 79.8%.",
    ]
    details = {"intents": len(intents), "train_examples": len(train), "test_examples": len(test), "seed": SEED,
               "published": PUBLISHED, "accuracy": results}
    return Section("b", "banking77", "BANKING77 few-shot intent detection", rows, notes, details,
                   time.monotonic() - started)
