"""Rasa's own checks: the data validates and every end-to-end test story in both languages runs
as written (tests/e2e/), with real NLU on the customer's words."""

import os
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "PYTHONPATH": str(ROOT)}


def rasa(*args, timeout=900):
    return subprocess.run(
        [sys.executable, "-m", "rasa", *args], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout
    )


def test_training_data_validates():
    result = rasa("data", "validate", "--domain", "domain.yml", "--data", "data/nlu", "data/rules.yml")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_end_to_end_stories_in_both_languages(tmp_path):
    result = rasa(
        "test", "core", "--model", "models/current.tar.gz", "--stories", "tests/e2e",
        "--fail-on-prediction-errors", "--out", str(tmp_path),
    )
    failed = (tmp_path / "failed_test_stories.yml")
    detail = failed.read_text(encoding="utf-8") if failed.exists() else ""
    assert result.returncode == 0, detail[-4000:] or (result.stdout[-3000:] + result.stderr[-3000:])
