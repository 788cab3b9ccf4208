"""``python -m tests.echo_channel.serve``: the contact service with the echo channel registered."""

from channels import registry
from tests.echo_channel.channel import EchoChannel

registry.CHANNELS.append(EchoChannel)  # the one line a new channel adds to channels/registry.py

from bot.server.__main__ import main  # noqa: E402 (after the registry has the channel)

main()
