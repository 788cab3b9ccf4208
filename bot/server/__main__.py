"""``python -m bot.server``: run the contact service (settings from the environment). In
production mode it exits with status 2, naming every unsafe setting, before it listens."""

from bot.server.app import create_app
from bot.server.production import refuse_unsafe_start
from bot.http.settings import HttpSettings
from bot.privacy import install_log_masking


def main() -> None:
    install_log_masking()  # before anything logs: no secret a customer typed reaches the log
    settings = HttpSettings()
    refuse_unsafe_start(settings)
    create_app(settings).run(host=settings.host, port=settings.port, access_log=False, workers=1)


if __name__ == "__main__":
    main()
