"""The Telegram channel (issue #6): the same assistant and the same agents, on Telegram.

Updates arrive at the contact service's webhook (``webhook.py``; ``python -m channels.telegram
poll`` forwards them there when there is no public URL), are committed once by ``update_id``
and become ordinary customer messages of a ``tg-<user id>`` conversation (``inbound.py``).
Every outbound message of such a conversation is sent from the database like an outbox
(``outbound.py``), so bot replies, system messages and agents' replies all reach Telegram, in
order, at least once. Off unless ``TELEGRAM_BOT_TOKEN`` is set (``config.py``).
"""
