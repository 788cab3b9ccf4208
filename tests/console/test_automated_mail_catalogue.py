"""The console names every reason that makes mail automated (channels/email/autoreply.py's
``AUTOMATED_CODES``) in both languages: the automated-mail list shows them as
``automated.reason.<code>`` of the catalogue (docs/console.md)."""

from __future__ import annotations

import pytest

from bot.console import i18n
from channels.email.autoreply import AUTOMATED_CODES


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_automated_reason_has_a_name_in_the_catalogue(language):
    catalogue = i18n.catalogue(language)
    assert sorted(code for code in AUTOMATED_CODES if f"automated.reason.{code}" not in catalogue) == []
    named = {key.split(".", 2)[2] for key in catalogue if key.startswith("automated.reason.")}
    assert named == set(AUTOMATED_CODES)  # no name for a code that no longer exists
