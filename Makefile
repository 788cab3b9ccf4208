# Evergreen Wealth contact assistant. `make run` and `make test` set up everything they need.
PYTHON310 ?= $(shell command -v /root/.pyenv/versions/3.10.13/bin/python || command -v python3.10)
VENV := .venv
BIN := $(VENV)/bin
export PYTHONPATH := $(CURDIR)
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export RASA_TELEMETRY_ENABLED := false

.PHONY: install train run cluster shell test bench clean test-services cluster-services telegram-poll

install: $(VENV)/.installed

$(VENV)/.installed: requirements.lock
	@test -n "$(PYTHON310)" || { echo "Python 3.10 is required (set PYTHON310=/path/to/python3.10)"; exit 1; }
	$(PYTHON310) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==24.0
	$(BIN)/pip install --quiet -r requirements.lock
	touch $@

train: install
	$(BIN)/python -m bot.training

run: train
	$(BIN)/python -m bot.launcher

# The system as a cluster (README, "A cluster"): nginx on 127.0.0.1:8080 in front of 2 contact
# services, 2 Rasa servers and 2 action servers, on PostgreSQL and Redis (bot/cluster.py).
cluster: train cluster-services
	$(BIN)/python -m bot.cluster

# A terminal chat. Its own Rasa server listens on a free loopback port, so it runs beside
# `make run` (whose Rasa has 5005); it uses that run's action server, or starts one.
shell: train
	@$(BIN)/python -m bot.server.migrate
	@port=$$($(BIN)/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	if curl -sf http://127.0.0.1:5055/health >/dev/null; then \
	  $(BIN)/python -m rasa shell --model models/current.tar.gz --endpoints endpoints.yml -i 127.0.0.1 -p $$port; \
	else \
	  SANIC_HOST=127.0.0.1 $(BIN)/python -m bot.action_server --actions actions --port 5055 >/tmp/evergreen-actions.log 2>&1 & pid=$$!; \
	  trap "kill $$pid" EXIT; \
	  $(BIN)/python -m rasa shell --model models/current.tar.gz --endpoints endpoints.yml -i 127.0.0.1 -p $$port; \
	fi

# The Telegram channel without a public URL: forwards updates to the running contact service
# (TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET set for both; README "Telegram").
telegram-poll: install
	$(BIN)/python -m channels.telegram poll

# What the cluster needs: Debian's nginx and Redis if missing, and the PostgreSQL server this
# machine kind runs (started here if it is down; bot/cluster.py starts Redis if it is down).
cluster-services:
	@test -x /usr/sbin/nginx || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }
	@command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }
	@pg_isready -q -h 127.0.0.1 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start

# What the tests need besides the venv and the cluster's services: Debian's Chromium (and a
# Chinese font, so screenshots are readable) for the browser tests, Debian's dovecot (each email
# test module runs its own IMAP server on a free port).
test-services: cluster-services
	@{ command -v chromium >/dev/null && fc-list :lang=zh | grep -q .; } || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; }
	@test -x /usr/sbin/dovecot || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null; }

# lint-imports: the layering rules of .importlinter (docs/architecture.md, "Who may import whom").
test: train test-services
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest

bench: train
	$(BIN)/python -m tests.benchmark.run

clean:
	rm -rf models results bench-results test-artifacts .pytest_cache
