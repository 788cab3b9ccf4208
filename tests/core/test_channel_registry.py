"""The registry's channels as the core sees them: kinds, capabilities, migrations, and the one
mapping of the core's errors to HTTP statuses."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from bot.complaints.lifecycle import ComplaintNotFound, NotAllowed
from bot.core import errors
from bot.core.conversations import Conversations
from bot.core.settings import Settings
from bot.http.errors import status_of
from channels import registry


@pytest.fixture
def conversations(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'contact.db'}", session_secret="s" * 40,
                        personal_data_key=Fernet.generate_key().decode())
    return Conversations(settings, [channel() for channel in registry.CHANNELS])


def test_every_kind_belongs_to_one_channel_and_has_names_in_both_languages(conversations):
    kinds = conversations.kinds()
    assert kinds == ["web", "app", "telegram", "email"]
    assert len(set(kinds)) == len(kinds)
    for channel in conversations.channels:
        for kind in channel.kinds:
            assert kind.labels.get("zh") and kind.labels.get("en"), kind


def test_capabilities_are_asked_by_kind(conversations):
    assert conversations.capabilities("web").live_chat and not conversations.capabilities("web").replies_by_email
    assert conversations.capabilities("telegram").live_chat and not conversations.capabilities("telegram").replies_by_email
    email = conversations.capabilities("email")
    assert email.replies_by_email and not email.live_chat
    assert conversations.capabilities("carrier-pigeon") == conversations.capabilities("")  # unknown: the defaults


def test_each_channels_migrations_are_its_own_and_present():
    folders = [channel.migrations for channel in registry.CHANNELS if channel.migrations]
    assert {folder.parent.name for folder in folders} == {"telegram", "email"}
    assert all(list(folder.glob("0*.py")) for folder in folders)


def test_the_cores_errors_have_one_status_each():
    assert status_of(errors.InvalidChange("x")) == 422
    assert status_of(errors.NotFound("x")) == status_of(ComplaintNotFound("x")) == 404
    assert status_of(errors.Forbidden("x")) == status_of(NotAllowed("x")) == 403
    assert status_of(errors.Conflict("x")) == 409
