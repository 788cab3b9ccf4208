"""Training the compared models and parsing messages with them.

Ours comes from :func:`bot.training.train`. Stock Rasa (``stock_config.yml``) is trained the
same way on the same files and cached beside ours, keyed by the same inputs plus its config.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import rasa.shared.utils.io
from rasa.core.agent import Agent

from bot import training

ROOT = training.ROOT
OUR_CONFIG = ROOT / "config.yml"
STOCK_CONFIG = ROOT / "tests" / "benchmark" / "stock_config.yml"
NOT_IN_NLU_ONLY = {"ResponseSelector", "FallbackClassifier"}


def _rasa(args: List[str], cwd: Path, log: Path) -> None:
    """Run ``rasa <args>`` in a child process, its output going to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false"}
    with open(log, "wb") as output:
        result = subprocess.run(
            [sys.executable, "-m", "rasa", *args], cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    if result.returncode:
        raise RuntimeError(f"rasa {' '.join(args[:2])} failed (exit {result.returncode}); see {log}")


def ours(keep_dir: Path) -> Path:
    """Our model from the project's own cached training, copied so a retrain elsewhere cannot swap it mid-run."""
    keep_dir.mkdir(parents=True, exist_ok=True)
    kept = keep_dir / "ours.tar.gz"
    shutil.copyfile(training.train(), kept)
    return kept


def _stock_path() -> Path:
    key = training.inputs_hash(training.model_inputs() + [STOCK_CONFIG])
    return training.CACHE / f"stock-{key}.tar.gz"


def cached_stock() -> Optional[Path]:
    """Stock Rasa's model for the current inputs if it is already trained, else None."""
    cached = _stock_path()
    return cached if cached.exists() else None


def stock(log_dir: Path) -> Path:
    """Stock Rasa trained on our domain and data, from the cache when its inputs are unchanged.

    ``BENCH_STOCK_MODEL`` names a stock model file to take instead: its 100-epoch training takes
    over an hour on 2 busy cores, and what a message costs stock Rasa does not depend on how
    many epochs trained it (the same pipeline and policies), so a model of the same
    configuration trained for fewer epochs stands in for the speed sections (c, d, e). The
    accuracy sections (a, p, t) need the real one; the report names the file used."""
    if os.environ.get("BENCH_STOCK_MODEL"):
        return Path(os.environ["BENCH_STOCK_MODEL"])
    cached = _stock_path()
    key = cached.name[len("stock-") : -len(".tar.gz")]
    if cached.exists():
        print(f"Stock model {key} is up to date ({cached}).", flush=True)
        return cached
    print(f"Training stock model {key} (log: {log_dir / 'train-stock.log'})...", flush=True)
    training.CACHE.mkdir(parents=True, exist_ok=True)
    _rasa(
        ["train", "--domain", "domain.yml", "--config", str(STOCK_CONFIG), "--data", *training.TRAINING_DATA,
         "--out", str(training.CACHE), "--fixed-model-name", cached.name[: -len(".tar.gz")]],
        ROOT,
        log_dir / "train-stock.log",
    )
    return cached


def train_nlu_only(config: Path, nlu_data: Path, work_dir: Path, name: str, log_dir: Path) -> Path:
    """Train the pipeline of ``config`` without response selector and fallback on ``nlu_data``."""
    settings = rasa.shared.utils.io.read_yaml_file(config)
    settings["pipeline"] = [c for c in settings["pipeline"] if c["name"] not in NOT_IN_NLU_ONLY]
    settings.pop("policies", None)
    nlu_config = work_dir / f"{name}-config.yml"
    rasa.shared.utils.io.write_yaml(settings, nlu_config)
    print(f"Training NLU-only model {name} (log: {log_dir / f'train-{name}.log'})...", flush=True)
    _rasa(
        ["train", "nlu", "--config", str(nlu_config), "--nlu", str(nlu_data), "--out", str(work_dir),
         "--fixed-model-name", name],
        work_dir,
        log_dir / f"train-{name}.log",
    )
    return work_dir / f"{name}.tar.gz"


def parse(model: Path, texts: List[str]) -> List[Dict[str, Any]]:
    """Parse each text with ``model``, one message at a time as the server does."""

    async def parse_all() -> List[Dict[str, Any]]:
        agent = Agent.load(str(model))
        return [await agent.parse_message(text) for text in texts]

    return asyncio.run(parse_all())
