"""Helpers the tests share: plain functions and classes, no fixtures.

Fixtures live in the ``conftest.py`` of the folder whose tests use them (``tests/conftest.py``
for those used in several folders) and are built from these helpers; a test module imports
helpers from here, never fixtures from another module.

- ``ports``: ``free_port``.
- ``database``: throw-away SQLite and PostgreSQL databases, ``postgres_admin``, row queries
  (``rows``, ``stored``), ``resolved_handoff``.
- ``system``: the running system (``ROOT``, ``MODEL``, ``service_env``, ``running_assistant``,
  ``rasa_and_actions``, ``contact_service_alone``, ``identity_token``, the frozen clocks).
- ``clients``: the customer's HTTP client (``Client``) and the agent's console (``Console``).
- ``trackers``: trackers built in code and actions run on them (unit tests of actions).
- ``staff``: the staff command as an operator runs it; the audit log's rows.
- ``waiting``: ``wait_for``.
- ``telegram_api``, ``telegram``: the capture server for the Bot API; a Telegram user, the webhook.
- ``imap_server``, ``smtp_server``, ``mail``: test mail servers; mails, their tickets.
- ``browser``, ``widget``, ``console_page``: Chromium, the widget and the console in a page.
"""
