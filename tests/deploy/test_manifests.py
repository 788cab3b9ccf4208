"""The sample deployment (deploy/) checked offline, as far as this machine allows: the Kubernetes
manifests rendered by kustomize and validated against the API's schemas, the systemd units by
``systemd-analyze verify``, nginx's configuration by ``nginx -t``, Rasa's endpoints file by Rasa
itself against a real Redis, and every setting against what the code reads and what production
requires. What is compared with the running system comes from the code (bot/cluster.py,
bot/server/production.py), not from lists kept here."""

from __future__ import annotations

import asyncio
import datetime
import os
import re
import secrets
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Dict, Iterator, List, Set

import kubernetes_validate
import pytest
import rasa
import rasa_sdk
import redis
import yaml
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.cluster import Cluster, Layout, nginx_config
from bot.http.settings import HttpSettings
from bot.launcher import TRACKER_STORE, _wait_until_up
from bot.server.production import problems
from tests.support.database import new_database
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
NGINX_CONF = DEPLOY / "nginx" / "evergreen.conf"
ENDPOINTS = DEPLOY / "rasa" / "endpoints.yml"
KUBERNETES_VERSION = "1.28.0"  # the newest schemas kubernetes-validate 1.28 has (rasa pins jsonschema < 4.18)
KINDS = ("contact", "rasa", "actions")
PLACEHOLDER = "REPLACE-ME"


# --- what the code reads ------------------------------------------------------------------------

OUR_CODE = (ROOT / "bot", ROOT / "channels", ROOT / "actions")


def environment_names_read(folders=OUR_CODE + (Path(rasa.__file__).parent, Path(rasa_sdk.__file__).parent)) -> Set[str]:
    """Every name the code could read from the environment: the upper-case string literals of the
    source files that read the environment (``environ``/``getenv``), by default in bot/, channels/,
    actions/ and the installed Rasa and Rasa SDK (TICKET_LOCK_LIFETIME, RASA_TELEMETRY_ENABLED …)."""
    names: Set[str] = set()
    for folder in folders:
        for path in folder.rglob("*.py"):
            text = path.read_text(encoding="utf-8", errors="replace")
            if "environ" in text or "getenv" in text:
                names.update(re.findall(r"""["']([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)["']""", text))
    return names


def endpoint_variables(text: str) -> Set[str]:
    """The ``${NAME}`` Rasa replaces in an endpoints file (outside comments)."""
    return {name for line in text.splitlines() for name in re.findall(r"\$\{([A-Z0-9_]+)\}", line.split("#")[0])}


@pytest.fixture(scope="module")
def names_read() -> Set[str]:
    return environment_names_read() | endpoint_variables(ENDPOINTS.read_text())


def filled(environment: Dict[str, str]) -> Dict[str, str]:
    """The placeholders replaced by values of the right shape, as an operator would: a Fernet key
    where one is asked for, a new secret elsewhere (in a URL: its password)."""
    def fill(value: str) -> str:
        if PLACEHOLDER not in value:
            return value
        if "://" in value:
            return re.sub(PLACEHOLDER + r"[\w-]*", secrets.token_hex(8), value)
        return Fernet.generate_key().decode() if "fernet-key" in value else secrets.token_urlsafe(32)
    return {name: fill(value) for name, value in environment.items()}


def production_problems(environment: Dict[str, str], monkeypatch) -> List[str]:
    """What bot/server/production.py says of a contact service started with only ``environment``;
    in production mode, or the answer would say nothing."""
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = HttpSettings()  # parses every value (TRUSTED_PROXIES, AGENT_HOURS …): a bad one raises
    assert not settings.demo, "CONTACT_DEMO must be 0: in demo mode production's checks are skipped"
    return problems(settings, environment)


def cluster_kinds(tmp_path: Path) -> Cluster:
    """bot/cluster.py's idea of each process (its command and health path)."""
    return Cluster(ROOT / "models" / "current.tar.gz", tmp_path, "postgresql://x@127.0.0.1/x", "redis://127.0.0.1:6379/0",
                   Layout(contact=1, rasa=1, actions=1))


def flags(argv: List[str]) -> Set[str]:
    return {arg.split("=")[0] for arg in argv if arg.startswith("--")}


def module(argv: List[str]) -> str:
    return argv[argv.index("-m") + 1]


# --- Kubernetes -----------------------------------------------------------------------------------

def render(folder: Path) -> List[dict]:
    result = subprocess.run(["kubectl", "kustomize", str(folder)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def manifests() -> List[dict]:
    if not shutil.which("kubectl"):
        pytest.skip("kubectl is not installed")
    return render(DEPLOY / "kubernetes")


def of_kind(manifests: List[dict], kind: str) -> Dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in manifests if doc["kind"] == kind}


def component(doc: dict) -> str:
    return doc["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]


def deployments(manifests: List[dict]) -> Dict[str, dict]:
    """Component (contact, rasa, actions) -> its Deployment."""
    return {component(doc): doc for doc in of_kind(manifests, "Deployment").values()}


def containers(manifests: List[dict]) -> Iterator[dict]:
    for doc in manifests:
        if doc["kind"] in ("Deployment", "Job"):
            spec = doc["spec"]["template"]["spec"]
            yield from spec.get("initContainers", []) + spec["containers"]


def container_environment(container: dict, manifests: List[dict]) -> Dict[str, str]:
    """The environment Kubernetes gives ``container``: its ConfigMaps and Secrets (envFrom), then
    its own ``env`` (which wins)."""
    config_maps, secret_maps = of_kind(manifests, "ConfigMap"), of_kind(manifests, "Secret")

    def data(source: dict) -> Dict[str, str]:
        if "configMapRef" in source:
            return dict(config_maps[source["configMapRef"]["name"]]["data"])
        return dict(secret_maps[source["secretRef"]["name"]]["stringData"])

    def value(entry: dict) -> str:
        if "value" in entry:
            return entry["value"]
        reference = entry["valueFrom"]["secretKeyRef"]
        return secret_maps[reference["name"]]["stringData"][reference["key"]]

    environment: Dict[str, str] = {}
    for source in container.get("envFrom", []):
        environment.update(data(source))
    environment.update({entry["name"]: value(entry) for entry in container.get("env", [])})
    return environment


def test_every_object_validates_against_the_kubernetes_schemas(manifests):
    kinds = {doc["kind"] for doc in manifests}
    assert {"Deployment", "Service", "Ingress", "Job", "ConfigMap", "Secret", "PodDisruptionBudget"} <= kinds
    for doc in manifests:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{doc['kind']} {doc['metadata']['name']}: {error.path}: {error.message}")


def test_a_broken_manifest_is_caught(tmp_path):
    """The check above can fail: a misspelt field (which Kubernetes would silently drop) is reported."""
    shutil.copytree(DEPLOY / "kubernetes", tmp_path / "kubernetes")
    actions = tmp_path / "kubernetes" / "actions.yaml"
    actions.write_text(actions.read_text().replace("readinessProbe:", "readynessProbe:", 1))
    broken = of_kind(render(tmp_path / "kubernetes"), "Deployment")["evergreen-actions"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_each_process_runs_as_bot_cluster_runs_it_with_both_probes_on_its_health_path(manifests, tmp_path):
    cluster = cluster_kinds(tmp_path)
    found = deployments(manifests)
    assert set(found) == set(KINDS)
    for kind, deployment in found.items():
        assert deployment["spec"]["replicas"] >= 2, kind
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        argv = container["command"] + container.get("args", [])
        expected = ["-m", *cluster._command(kind, 1)]
        assert module(argv) == module(expected), kind
        assert flags(argv) >= flags(expected), f"{kind}: bot/cluster.py passes {flags(expected) - flags(argv)} too"
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        health = "/" + cluster._health(kind, 0).split("/", 3)[3]
        for probe in ("readinessProbe", "livenessProbe"):
            get = container[probe]["httpGet"]
            assert get["path"] == health, f"{kind} {probe}"
            assert get["port"] in ports or get["port"] in ports.values(), f"{kind} {probe}"


def test_pods_run_as_non_root_on_a_read_only_root_with_limits(manifests):
    for doc in manifests:
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]) & set(container["resources"]["limits"])


def test_services_budgets_and_the_ingress_reach_the_right_pods(manifests):
    found = deployments(manifests)
    pod_labels = {kind: doc["spec"]["template"]["metadata"]["labels"] for kind, doc in found.items()}

    def selects(selector: Dict[str, str]) -> List[str]:
        return [kind for kind, labels in pod_labels.items() if selector.items() <= labels.items()]

    services = of_kind(manifests, "Service")
    for service in services.values():
        (kind,) = selects(service["spec"]["selector"])
        (container,) = found[kind]["spec"]["template"]["spec"]["containers"]
        assert {port["targetPort"] for port in service["spec"]["ports"]} <= {port["name"] for port in container["ports"]}
    assert sorted(kind for budget in of_kind(manifests, "PodDisruptionBudget").values()
                  for kind in selects(budget["spec"]["selector"]["matchLabels"])) == sorted(KINDS)
    (ingress,) = of_kind(manifests, "Ingress").values()
    backends = [path["backend"]["service"]["name"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]
    assert {kind for name in backends for kind in selects(services[name]["spec"]["selector"])} == {"contact"}
    assert ingress["spec"]["ingressClassName"] == "nginx"
    annotations = ingress["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600  # idle WebSockets
    cluster_next_upstream = re.search(r"proxy_next_upstream (.*);", nginx_config(Layout(1, 1, 1), Path("/tmp"))).group(1)
    assert annotations["nginx.ingress.kubernetes.io/proxy-next-upstream"] == cluster_next_upstream


def test_every_variable_the_manifests_set_is_one_the_code_reads(manifests, names_read):
    set_here = {name for container in containers(manifests) for name in container_environment(container, manifests)}
    assert set_here - names_read == set()


def test_the_contact_service_gets_everything_production_requires(manifests, monkeypatch):
    (container,) = deployments(manifests)["contact"]["spec"]["template"]["spec"]["containers"]
    environment = container_environment(container, manifests)
    assert production_problems(filled(environment), monkeypatch) == []
    # As given, the example is refused: its placeholders are not secrets anyone could use.
    assert production_problems(environment, monkeypatch) != []


def test_the_rasa_servers_get_their_endpoints_file_and_every_variable_it_and_their_arguments_use(manifests):
    (pod,) = [deployments(manifests)["rasa"]["spec"]["template"]["spec"]]
    (container,) = pod["containers"]
    environment = container_environment(container, manifests)
    argv = container["command"] + container["args"]
    endpoints_path = Path(argv[argv.index("--endpoints") + 1])
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == str(endpoints_path.parent)]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    mounted = of_kind(manifests, "ConfigMap")[volume["configMap"]["name"]]["data"][endpoints_path.name]
    assert mounted == ENDPOINTS.read_text(), "deploy/kubernetes/rasa-endpoints.yml differs from deploy/rasa/endpoints.yml"
    assert endpoint_variables(mounted) <= set(environment)
    own = {entry["name"] for entry in container.get("env", [])}  # what Kubernetes expands in $(NAME)
    assert set(re.findall(r"\$\(([A-Z0-9_]+)\)", " ".join(argv))) <= own


def test_the_migration_job_then_the_action_and_contact_pods_start_in_production_mode(manifests, tmp_path):
    """The Job's, the action server's and the contact service's commands, each with only the
    environment its container gets (placeholders filled), on a new PostgreSQL database: the
    migrations run and both services answer their health path. Only the addresses are moved to
    free loopback ports. (Rasa is left out: its endpoints are checked below, and its model takes
    a minute and most of a gigabyte to load.)"""
    (job,) = of_kind(manifests, "Job").values()
    pods = {kind: doc["spec"]["template"]["spec"]["containers"][0] for kind, doc in deployments(manifests).items()}
    actions_port, contact_port = free_port(), free_port()
    local = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}  # "python -m" in the image's WORKDIR finds the code, as here

    def command(container: dict, **replace: str) -> List[str]:
        argv = [sys.executable if arg == "python" else arg for arg in container["command"] + container.get("args", [])]
        return [replace.get(argv[i - 1], arg) if i else arg for i, arg in enumerate(argv)]

    def environment(container: dict, database_url: str, **overrides: str) -> Dict[str, str]:
        return {**filled(container_environment(container, manifests)), **local, "DATABASE_URL": database_url, **overrides}

    processes: List[subprocess.Popen] = []
    with new_database("postgresql", tmp_path) as database_url:
        try:
            (migrate,) = job["spec"]["template"]["spec"]["containers"]
            subprocess.run(command(migrate), cwd=ROOT, env=environment(migrate, database_url), check=True, timeout=120)
            processes.append(subprocess.Popen(command(pods["actions"], **{"--port": str(actions_port)}), cwd=ROOT,
                                              env=environment(pods["actions"], database_url, SANIC_HOST="127.0.0.1")))
            _wait_until_up(f"http://127.0.0.1:{actions_port}/health", processes[-1], 120)
            processes.append(subprocess.Popen(command(pods["contact"]), cwd=ROOT, env=environment(
                pods["contact"], database_url, CONTACT_HOST="127.0.0.1", CONTACT_PORT=str(contact_port),
                RASA_URL=f"http://127.0.0.1:{free_port()}", ACTIONS_URL=f"http://127.0.0.1:{actions_port}")))
            _wait_until_up(f"http://127.0.0.1:{contact_port}/health", processes[-1], 120)
            with pytest.raises(urllib.error.HTTPError) as answer:  # production mode: no demo page
                urllib.request.urlopen(f"http://127.0.0.1:{contact_port}/")
            assert answer.value.code == 404
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=20)


# --- Rasa's endpoints file, read by Rasa --------------------------------------------------------------

def test_rasa_reads_the_endpoints_file_and_locks_conversations_in_redis(monkeypatch):
    """Rasa 3.6 replaces ${NAME} in plain values only (a quoted one stays as written): the action
    endpoint, the tracker store and a working Redis lock store as Rasa builds them."""
    from rasa.core.lock_store import LockStore, RedisLockStore
    from rasa.core.utils import AvailableEndpoints

    for name, value in {"ACTIONS_URL": "http://actions.test:5055", "REDIS_HOST": "127.0.0.1", "REDIS_PORT": "6379",
                        "REDIS_PASSWORD": ""}.items():
        monkeypatch.setenv(name, value)
    endpoints = AvailableEndpoints.read_endpoints(str(ENDPOINTS))
    assert endpoints.action.url == "http://actions.test:5055/webhook"
    assert endpoints.tracker_store.type == TRACKER_STORE
    store = LockStore.create(endpoints.lock_store)
    assert isinstance(store, RedisLockStore)
    conversation = f"deploy-test-{uuid.uuid4().hex}"

    async def held() -> List[bytes]:
        async with store.lock(conversation):
            return redis.Redis(port=6379).keys(f"*{conversation}")

    assert len(asyncio.run(held())) == 1


# --- systemd ----------------------------------------------------------------------------------------

def env_file(path: Path) -> Dict[str, str]:
    """The variables an EnvironmentFile sets."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if re.match(r"[A-Z][A-Z0-9_]*=", line))
    return {name: value.strip('"') for name, value in pairs}


def env_file_mentions(path: Path) -> Set[str]:
    """The variables it sets or shows commented out (``# NAME=example``)."""
    return set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]*)=", path.read_text(), re.MULTILINE))


def unit_settings(path: Path, key: str) -> List[str]:
    return [line.split("=", 1)[1] for line in path.read_text().splitlines() if line.startswith(key + "=")]


def target_instances() -> Dict[str, List[int]]:
    """kind -> the instance ports evergreen.target starts."""
    wants = " ".join(unit_settings(SYSTEMD / "evergreen.target", "Wants"))
    return {kind: [int(port) for port in re.findall(rf"evergreen-{kind}@(\d+)\.service", wants)] for kind in KINDS}


def test_systemd_analyze_verifies_the_units(tmp_path):
    """Verified as installed, the paths of /opt/evergreen pointing at this checkout (so that the
    commands exist); any warning fails, an unknown option or a missing unit as much as an error."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    units = tmp_path / "units"
    units.mkdir()
    (tmp_path / "evergreen").mkdir()
    (tmp_path / "evergreen" / ".venv").symlink_to(ROOT / ".venv")
    for unit in SYSTEMD.iterdir():
        if unit.suffix in (".service", ".target"):
            (units / unit.name).write_text(unit.read_text().replace("/opt/evergreen", str(tmp_path / "evergreen")))
    names = ["evergreen.target", "evergreen-migrate.service"]
    for kind, ports in target_instances().items():
        assert ports, f"evergreen.target starts no {kind} instance"
        for port in ports:
            (units / f"evergreen-{kind}@{port}.service").symlink_to(units / f"evergreen-{kind}@.service")
            names.append(f"evergreen-{kind}@{port}.service")
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *(str(units / name) for name in names)],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "SYSTEMD_UNIT_PATH": f"{units}:"})  # ":" keeps the system's units (nginx)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_units_are_hardened_restarted_and_migrate_first(tmp_path):
    cluster = cluster_kinds(tmp_path)
    env_names = set(env_file(SYSTEMD / "evergreen.env.example"))
    for kind in KINDS:
        unit = SYSTEMD / f"evergreen-{kind}@.service"
        text = unit.read_text()
        for setting in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "Restart=always",
                        "User=evergreen", "Requires=evergreen-migrate.service", "After=evergreen-migrate.service"):
            assert re.search(rf"^{re.escape(setting)}$", text, re.MULTILINE), f"{unit.name}: {setting}"
        (exec_start,) = unit_settings(unit, "ExecStart")
        argv = exec_start.split()
        expected = ["-m", *cluster._command(kind, 1)]
        assert module(argv) == module(expected) and flags(argv) >= flags(expected), unit.name
        assert "%i" in exec_start or "CONTACT_PORT=%i" in unit_settings(unit, "Environment"), f"{unit.name}: port is not the instance"
        # EnvironmentFile= overrides Environment=: a unit's own value would silently be replaced.
        own = {setting.split("=", 1)[0] for setting in unit_settings(unit, "Environment")}
        assert own & env_names == set(), unit.name
        assert set(re.findall(r"\$\{([A-Z0-9_]+)\}", exec_start)) <= env_names, unit.name
    (migrate,) = unit_settings(SYSTEMD / "evergreen-migrate.service", "ExecStart")
    assert "-m bot.server.migrate" in migrate


def test_every_variable_the_environment_file_names_is_one_the_code_reads(names_read):
    mentioned = env_file_mentions(SYSTEMD / "evergreen.env.example")
    for unit in SYSTEMD.glob("*.service"):
        mentioned |= {setting.split("=", 1)[0] for setting in unit_settings(unit, "Environment")}
    assert mentioned - names_read == set()


def test_the_environment_file_shows_every_setting_of_the_code():
    """A setting added to the code is added here too: set, commented out, or named in the file's
    header as not for production."""
    text = (SYSTEMD / "evergreen.env.example").read_text()
    assert {name for name in environment_names_read(OUR_CODE) if not re.search(rf"\b{name}\b", text)} == set()


def test_a_contact_service_under_systemd_gets_everything_production_requires(monkeypatch):
    environment = env_file(SYSTEMD / "evergreen.env.example")
    (port,) = [s.split("=", 1)[1] for s in unit_settings(SYSTEMD / "evergreen-contact@.service", "Environment")
               if s.startswith("CONTACT_PORT=")]
    environment["CONTACT_PORT"] = port.replace("%i", "8081")
    assert production_problems(filled(environment), monkeypatch) == []
    assert production_problems(environment, monkeypatch) != []


# --- nginx ------------------------------------------------------------------------------------------

def self_signed(folder: Path) -> None:
    """A certificate and key for nginx to load (fullchain.pem, privkey.pem), valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "service.evergreen-wealth.example")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now)
                   .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    (folder / "fullchain.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "privkey.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))


def nginx_test(config: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """``nginx -t`` on ``config`` with the certificates, logs and pid file moved under ``tmp_path``."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("nginx is not installed")
    (tmp_path / "tls").mkdir(exist_ok=True)
    (tmp_path / "logs").mkdir(exist_ok=True)
    self_signed(tmp_path / "tls")
    config = (config.replace("/etc/evergreen/tls/", f"{tmp_path}/tls/").replace("/var/log/nginx/", f"{tmp_path}/logs/")
              .replace("/run/nginx.pid", f"{tmp_path}/nginx.pid"))
    (tmp_path / "nginx.conf").write_text(config)
    return subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                          capture_output=True, text=True, timeout=60)


def test_nginx_accepts_the_configuration(tmp_path):
    result = nginx_test(NGINX_CONF.read_text(), tmp_path)
    assert result.returncode == 0 and "test is successful" in result.stderr, result.stderr
    assert not re.search(r"\[(warn|emerg|alert|crit)\]", result.stderr), result.stderr


def test_nginx_refuses_a_broken_configuration(tmp_path):
    """The check above can fail: a directive in the wrong place is refused."""
    broken = NGINX_CONF.read_text().replace("    keepalive 32;", "    keepalive 32;\n    proxy_read_timeout 1h;", 1)
    assert nginx_test(broken, tmp_path).returncode != 0


def server_blocks(config: str) -> Dict[str, str]:
    """upstream name -> the text of the ``server { … }`` block that proxies to it."""
    blocks = {}
    for start in (match.start() for match in re.finditer(r"^\s*server \{", config, re.MULTILINE)):
        depth, end = 0, start
        for end in range(config.index("{", start), len(config)):
            depth += {"{": 1, "}": -1}.get(config[end], 0)
            if depth == 0:
                break
        block = config[start:end + 1]
        for upstream in re.findall(r"proxy_pass http://(\w+);", block):
            blocks[upstream] = block
    return blocks


def test_nginx_proxies_as_bot_cluster_does_to_the_instances_systemd_starts():
    ours = NGINX_CONF.read_text()
    cluster = nginx_config(Layout(1, 1, 1), Path("/tmp"))
    assert "map $http_upgrade $connection_upgrade {\n    default upgrade;\n    '' '';\n  }" in ours
    our_blocks, cluster_blocks = server_blocks(ours), server_blocks(cluster)
    assert set(our_blocks) == set(cluster_blocks)
    for upstream, block in cluster_blocks.items():
        for line in {line.strip() for line in block.splitlines() if line.strip().startswith(("proxy_", "client_"))}:
            if not line.startswith("proxy_read_timeout"):
                assert line in our_blocks[upstream], f"{upstream}: bot/cluster.py's nginx has {line!r}"
    upstreams = {name: [int(port) for port in re.findall(r"server 127\.0\.0\.1:(\d+)", body)]
                 for name, body in re.findall(r"upstream (\w+) \{(.*?)\}", ours, re.DOTALL)}
    instances = target_instances()
    assert upstreams == {"contact_services": instances["contact"], "rasa_servers": instances["rasa"],
                         "action_servers": instances["actions"]}
    settings = env_file(SYSTEMD / "evergreen.env.example")
    for url, upstream in ((settings["RASA_URL"], "rasa_servers"), (settings["ACTIONS_URL"], "action_servers")):
        assert f"listen {url.split('://', 1)[1]};" in our_blocks[upstream], url
