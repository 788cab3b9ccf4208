"""``python -m bot.contact``: run the contact service (settings from the environment)."""

from bot.contact.app import create_app
from bot.contact.settings import Settings

if __name__ == "__main__":
    settings = Settings()
    create_app(settings).run(host=settings.host, port=settings.port, access_log=False, workers=1)
