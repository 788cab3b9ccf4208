"""Every command the README shows works as written, on a fresh copy of the project.

The project's tracked files are copied to a new directory (no ``var/``, no database, the shared
``.venv`` linked in), ``make run`` starts the whole system there on the README's own ports, and
each command of the README's ``sh`` blocks is typed into one bash, in the README's order, so
that ``TOKEN``/``REF`` carry over as they would for a reader; ``make shell`` runs on a terminal
of its own beside ``make run``. Each command's result is checked (:data:`CHECKS`), and a command
in the README with no check here (in a block, or in the text as `` `make …` ``/`` `.venv/bin/…` ``)
fails the test, so a new example cannot go untested.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import pytest
from cryptography.fernet import Fernet

from tests.support.clients import REFERENCE, Client
from tests.support.database import new_database
from tests.support.ports import free_port
from tests.support.system import ROOT

README = ROOT / "README.md"
PORTS = (8080, 5005, 5055)  # contact service, Rasa, action server: where `make run` puts them
STARTUP_SECONDS = 300
DONE = "__README_COMMAND_DONE__"


def shell_blocks(markdown: str) -> List[str]:
    return re.findall(r"^```sh\n(.*?)^```", markdown, re.S | re.M)


def commands_of(block: str) -> List[str]:
    """The commands of one ``sh`` block: continuation lines joined, comments dropped."""
    commands, current = [], ""
    for line in block.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line
        if current.endswith("\\"):
            current = current[:-1]
            continue
        commands.append(re.split(r"\s{2,}#", current)[0].strip())
        current = ""
    return commands


def inline_commands(markdown: str) -> List[str]:
    """Commands quoted in the text (`` `make run` ``), outside the ``sh`` blocks."""
    text = re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)
    return [span for span in re.findall(r"`([^`\n]+)`", text)
            if re.match(r"(make |\.venv/bin/|python |curl )", span)]


def parsed(output: str) -> object:
    return json.loads(output)


def reply_texts(output: str) -> str:
    return " ".join(reply.get("text", "") for reply in parsed(output))


# What each README command must do: (a part of the command, a check of (exit status, output)).
# A check of None: run elsewhere, for the reason given.
Check = Optional[Callable[[int, str, Path], None]]


def ok(status: int, output: str, _clone: Path) -> None:
    assert status == 0, output


def answers(expected: str) -> Check:
    def check(status: int, output: str, _clone: Path) -> None:
        assert status == 0 and expected in reply_texts(output), output
    return check


def files_a_complaint(status: int, output: str, _clone: Path) -> None:
    assert status == 0 and REFERENCE.search(reply_texts(output)), output


def lists_open_complaints(status: int, output: str, _clone: Path) -> None:
    assert status == 0 and parsed(output)["complaints"], output


def acknowledges(status: int, output: str, _clone: Path) -> None:
    assert status == 0 and parsed(output)["complaint"]["state"] == "acknowledged", output


def writes_report(status: int, output: str, clone: Path) -> None:
    report = (clone / "report.html").read_text(encoding="utf-8")
    assert status == 0 and re.search(r"<p>[1-9]\d* complaints?, as of", report), report[:800]  # this month's, in Beijing


def prints(expected: str) -> Check:
    def check(status: int, output: str, _clone: Path) -> None:
        assert status == 0 and expected in output, output
    return check


def a_secret(status: int, output: str, _clone: Path) -> None:
    assert status == 0 and len(output.strip()) >= 43, output


def a_fernet_key(status: int, output: str, _clone: Path) -> None:
    assert status == 0
    Fernet(output.strip().encode())


CHECKS: List[Tuple[str, Check, str]] = [
    ("make run", ok, "started by this test; the rest runs against it"),
    ("make test", None, "runs this very test (.ci/run)"),
    ("UPDATE_README_IMAGES=1 make test", None, "make test, refreshing the screenshots"),
    ("make bench", None, "the benchmark takes 20–50 minutes; run by hand (docs/nlu.md)"),
    ("make install", ok, ""),
    ("make train", ok, ""),
    ("make shell", ok, "on a terminal of its own (test_make_shell_beside_make_run)"),
    ("make cluster", ok, "beside make run, nginx on another port (test_make_cluster_as_written)"),
    ("长青货币宝起购金额是多少", answers("起购金额"), ""),
    ("这是诈骗", files_a_complaint, ""),
    ("TOKEN=$(cat var/staff-demo-token)", ok, ""),
    ("complaints?state=open'", lists_open_complaints, ""),
    ("REF=$(", ok, ""),
    ("/transition", acknowledges, ""),
    ("complaints.html", writes_report, ""),
    ("bot.server.staff add amy", prints("API token for amy"), ""),
    ("bot.server.staff deactivate amy", prints("Deactivated amy"), ""),
    ("printf 'id,name,tier", ok, ""),
    ("bot.server.customers import export.csv", prints("Imported 1 customers"), ""),
    ("secrets.token_urlsafe", a_secret, ""),
    ("Fernet.generate_key", a_fernet_key, ""),
    ("channels.telegram set-webhook", None, "needs a bot token: tests/channels/telegram/test_webhook.py runs it"),
    ("channels.telegram poll", None, "needs a bot token: tests/channels/telegram/test_webhook.py runs it"),
]


def check_for(command: str) -> Tuple[str, Check, str]:
    found = [entry for entry in CHECKS if entry[0] in command]
    assert found, f"README command without a check in tests/test_readme.py: {command}"
    return max(found, key=lambda entry: len(entry[0]))  # the most specific


def reader_env(**extra: str) -> Dict[str, str]:
    """A reader's shell: none of the test run's settings (its database, its clock)."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8",
            "TERM": "xterm", **extra}


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """The project as a fresh clone has it: the tracked (and new, not ignored) files, the
    shared ``.venv`` linked in, with their times kept so ``make`` sees nothing to reinstall."""
    copy = tmp_path_factory.mktemp("readme") / "evergreen"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    (copy / ".venv").symlink_to(ROOT / ".venv")
    return copy


@pytest.fixture(scope="module")
def make_run(clone: Path):
    busy = [port for port in PORTS if port_in_use(port)]
    assert not busy, f"ports {busy} are in use: stop what runs there (a `make run`?) before this test"
    log = open(clone / "make-run.log", "wb")
    process = subprocess.Popen(["make", "run"], cwd=clone, env=reader_env(), stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, (clone / "make-run.log").read_text(errors="replace")[-3000:]
            try:
                with urllib.request.urlopen("http://127.0.0.1:8080/health", timeout=2) as answer:
                    if answer.status == 200 and port_in_use(5005) and port_in_use(5055):
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "make run did not come up"
            time.sleep(1)
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


class Bash:
    """One bash a reader types into: variables set by one command are there for the next."""

    def __init__(self, cwd: Path, env: Dict[str, str]):
        self.process = subprocess.Popen(["bash", "--norc", "--noprofile"], cwd=cwd, env=env, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def run(self, command: str) -> Tuple[int, str]:
        self.process.stdin.write(f"{command}\necho; echo {DONE} $?\n")
        self.process.stdin.flush()
        lines = []
        for line in self.process.stdout:
            if line.startswith(DONE):
                return int(line.split()[1]), "".join(lines).rstrip("\n")
            lines.append(line)
        raise AssertionError(f"bash ended during: {command}")

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


def test_every_readme_command_is_checked():
    markdown = README.read_text(encoding="utf-8")
    commands = [command for block in shell_blocks(markdown) for command in commands_of(block)]
    assert len(commands) >= 15
    for command in commands + inline_commands(markdown):
        check_for(command)


def test_readme_commands_work_as_written(clone: Path, make_run):
    markdown = (clone / "README.md").read_text(encoding="utf-8")
    bash = Bash(clone, reader_env(STAFF_PASSWORD="a-long-console-password-for-amy"))
    ran = []
    try:
        for command in [command for block in shell_blocks(markdown) for command in commands_of(block)]:
            _, check, _ = check_for(command)
            if check is None or command.split("#")[0].strip() in ("make run", "make shell", "make cluster"):
                continue
            status, output = bash.run(command)
            check(status, output, clone)
            ran.append(command)
        for command in ("make install", "make train"):  # the table's commands
            status, output = bash.run(command)
            ok(status, output, clone)
    finally:
        bash.close()
    assert any("transition" in command for command in ran)


def test_make_shell_beside_make_run(clone: Path, make_run):
    """`make shell` on a terminal while `make run` holds Rasa's port 5005: a question answered
    with the disclosure, /stop ends it."""
    output, status = on_a_terminal(["make", "shell"], clone, [("Your input", "长青货币宝起购金额是多少"), ("投资须谨慎", "/stop")])
    assert status == 0, output[-3000:]
    assert "100 元" in output, output[-3000:]
    assert make_run.poll() is None


def on_a_terminal(command: List[str], cwd: Path, steps: List[Tuple[str, str]], timeout: float = 300) -> Tuple[str, int]:
    """Run ``command`` on a pseudo-terminal; for each step, once its text shows (after what was
    typed last), type its line."""
    main, terminal = pty.openpty()
    process = subprocess.Popen(command, cwd=cwd, env=reader_env(), stdin=terminal, stdout=terminal, stderr=terminal,
                               start_new_session=True)
    os.close(terminal)
    seen, since, steps = b"", 0, list(steps)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if select.select([main], [], [], 1)[0]:
                try:
                    seen += os.read(main, 65536)
                except OSError:
                    break
                if steps and steps[0][0].encode() in seen[since:]:
                    since = len(seen)
                    os.write(main, (steps.pop(0)[1] + "\r").encode())
        process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        os.close(main)
    return seen.decode(errors="replace"), process.returncode


def test_make_cluster_as_written(clone: Path, make_run):
    """`make cluster` beside `make run` (nginx on ``CLUSTER_PORT``, a database of its own): the
    banner names every process, a question is answered through nginx, and Ctrl-C stops them all."""
    port = free_port()
    with new_database("postgresql", clone) as database_url:
        env = reader_env(CLUSTER_PORT=str(port), DATABASE_URL=database_url)
        log = open(clone / "make-cluster.log", "wb")
        process = subprocess.Popen(["make", "cluster"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while "Ctrl-C stops everything" not in (clone / "make-cluster.log").read_text(errors="replace"):
                assert process.poll() is None, (clone / "make-cluster.log").read_text(errors="replace")[-3000:]
                assert time.monotonic() < deadline, "make cluster did not come up"
                time.sleep(1)
            banner = (clone / "make-cluster.log").read_text(errors="replace")
            listed = {kind: re.findall(r"http://127\.0\.0\.1:(\d+)", line)
                      for kind, line in re.findall(r"^  (contact services|Rasa servers|action servers) +(.*)$", banner, re.M)}
            assert {kind: len(ports) for kind, ports in listed.items()} == {
                "contact services": 2, "Rasa servers": 2, "action servers": 2}, banner
            customer = Client(f"http://127.0.0.1:{port}")
            customer.start()
            assert "100 元" in "\n".join(r["text"] for r in customer.say("长青货币宝起购金额是多少")["replies"])
            os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=60)
            busy = [p for p in [port] + [int(p) for ports in listed.values() for p in ports] if port_in_use(int(p))]
            assert busy == [], f"still listening after Ctrl-C: {busy}"
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            log.close()
