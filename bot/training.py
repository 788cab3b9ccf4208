"""Train the Rasa model only when what it is trained from has changed.

The model is keyed by a hash of ``domain.yml``, ``config.yml``, ``data/`` and the custom NLU
components, and kept in a cache outside the checkout (``$EVERGREEN_MODEL_CACHE``, default
``~/.cache/evergreen-assistant/models``), so a fresh clone with the same inputs, CI included,
reuses the model instead of training again. ``models/current.tar.gz`` points at the model.

Usage: ``python -m bot.training [--force]``
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterable, List

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("EVERGREEN_MODEL_CACHE", Path.home() / ".cache/evergreen-assistant/models"))
CURRENT = ROOT / "models" / "current.tar.gz"
TRAINING_DATA = ["data/nlu", "data/rules.yml"]


def model_inputs(root: Path = ROOT) -> List[Path]:
    """The files a trained model depends on, in a stable order."""
    files = [root / "domain.yml", root / "config.yml", root / "requirements.lock"]
    files += sorted((root / "data").rglob("*.yml"))
    files += sorted((root / "bot" / "nlu").glob("*.py"))
    return files


def inputs_hash(files: Iterable[Path], root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def train(force: bool = False) -> Path:
    """Return the path of an up-to-date model, training one if needed."""
    key = inputs_hash(model_inputs())
    cached = CACHE / f"evergreen-{key}.tar.gz"
    if force or not cached.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"Training model {key} (inputs changed or no cached model)...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "rasa", "train", "--domain", "domain.yml", "--config", "config.yml",
             "--data", *TRAINING_DATA, "--out", str(CACHE), "--fixed-model-name", cached.name[: -len(".tar.gz")]],
            cwd=ROOT,
            check=True,
        )
    else:
        print(f"Model {key} is up to date ({cached}).", flush=True)
    CURRENT.parent.mkdir(exist_ok=True)
    tmp = CURRENT.with_suffix(".tmp")
    shutil.copyfile(cached, tmp)
    tmp.replace(CURRENT)
    return CURRENT


if __name__ == "__main__":
    train(force="--force" in sys.argv[1:])
