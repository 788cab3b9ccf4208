"""``python -m tests.channels.echo.serve``: the contact service with the echo channel registered."""

from channels import registry
from tests.channels.echo.channel import EchoChannel

registry.CHANNELS.append(EchoChannel)  # the one line a new channel adds to channels/registry.py

from bot.server.__main__ import main  # noqa: E402 (after the registry has the channel)

main()
