"""Secrets and modes, as an attacker tries them: production refuses to start with the published
demo secret or any other unsafe secret; identity tokens are accepted only when signed as the
operator configured (HS256 secret, RS256/ES256 public key or JWKS) and refused when forged;
the demo signer and the published secret vouch for the demo customers only.

Everything goes through real ``python -m bot.server`` processes and real HTTP; their Rasa port
is dead (sessions need no Rasa)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

import jwt
import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bot.core import customers, staff
from channels.web.identity import IdentityKeyError, conversation_id_for, read_jwks_file, read_public_key_file
from bot.server.production import problems
from bot.http.settings import DEMO_CUSTOMER_TOKEN_SECRET, HttpSettings as Settings
from tests.support.ports import free_port
from tests.support.system import ROOT, contact_service_alone


OPERATOR_SECRET = "operator-customer-token-secret-of-more-than-32-bytes"
SESSION_SECRET = "operator-session-secret-of-more-than-32-bytes"
ISSUER, AUDIENCE = "https://www.evergreen.example", "evergreen-contact"
REAL_CUSTOMER = "cust-1001"  # imported from the CRM: not a demo customer
FORGED = {"error": {"code": "invalid_identity", "message": "The identity token is invalid or has expired."}}
# What an operator's shell may hold that would change the outcome of a refusal test.
CHECKED_PREFIXES = ("CUSTOMER_TOKEN_", "SESSION_SECRET", "PERSONAL_DATA_KEY", "METRICS_TOKEN", "RASA_API_TOKEN",
                    "TELEGRAM_", "EMAIL_", "CONTACT_DEMO")


# --- keys and tokens, as the firm's backend (or an attacker) makes them -----------------------

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # an attacker's


def pem(private_key) -> bytes:
    return private_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def jwk(private_key, kid: str) -> dict:
    algorithm = RSAAlgorithm if isinstance(private_key, rsa.RSAPrivateKey) else ECAlgorithm
    return {**json.loads(algorithm.to_jwk(private_key.public_key())), "kid": kid, "use": "sig"}


def claims(subject: str = REAL_CUSTOMER, lifetime: int = 300, **changes) -> dict:
    now = int(time.time())
    values = {"sub": subject, "iat": now, "exp": now + lifetime, "iss": ISSUER, "aud": AUDIENCE, **changes}
    return {name: value for name, value in values.items() if value is not None}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict, payload: dict, hmac_key: bytes = b"") -> str:
    """A JWT assembled by hand, for what PyJWT refuses to make: ``alg: none``, or HS256 with a
    public key as the HMAC secret (the algorithm-confusion attack)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = b64(hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()) if hmac_key else ""
    return f"{signing_input}.{signature}"


# --- the services --------------------------------------------------------------------------

def production_env(tmp_path: Path, **changes: Optional[str]) -> Dict[str, str]:
    """A production environment that passes the check, with ``changes`` (``None`` removes a variable)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(CHECKED_PREFIXES)}
    env.update({"CONTACT_DEMO": "0", "CUSTOMER_TOKEN_SECRET": OPERATOR_SECRET, "SESSION_SECRET": SESSION_SECRET,
                "PERSONAL_DATA_KEY": Fernet.generate_key().decode(), "DATABASE_URL": f"sqlite:///{tmp_path / 'contact.db'}",
                "CONTACT_HOST": "127.0.0.1", "CONTACT_PORT": str(free_port()), "RASA_URL": f"http://127.0.0.1:{free_port()}",
                "PYTHONPATH": str(ROOT)})
    env.update(changes)
    return {name: value for name, value in env.items() if value is not None}


@contextlib.contextmanager
def running(tmp_path: Path, **env: Optional[str]) -> Iterator[str]:
    """A contact service with ``env`` over the test environment (``None`` removes a variable), and
    one imported real customer."""
    with contact_service_alone(tmp_path, free_port(), **env) as url:  # migrated before /health answers
        engine = create_engine(f"sqlite:///{tmp_path / 'contact.db'}")
        with Session(engine) as session:
            customers.upsert(session, [customers.validate(
                {"id": REAL_CUSTOMER, "name": "钱先生 Qian", "tier": "private", "risk_level": "C4"}, "CRM")])
        engine.dispose()
        yield url


def production_service(tmp_path: Path, **env: Optional[str]):
    return running(tmp_path, **{"CONTACT_DEMO": "0", "PERSONAL_DATA_KEY": Fernet.generate_key().decode(),
                                "SESSION_SECRET": SESSION_SECRET, **env})


def http(url: str, method: str = "GET", body=None, **headers: str) -> Tuple[int, object]:
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def sign_in(url: str, token: str) -> Tuple[int, dict]:
    return http(f"{url}/api/v1/sessions", "POST", {"identity_token": token})


def assert_signed_in(url: str, token: str, customer_id: str = REAL_CUSTOMER) -> None:
    status, answer = sign_in(url, token)
    assert status == 200 and answer["customer"]["verified"], answer
    assert answer["conversation_id"] == conversation_id_for(customer_id, None)


def assert_refused(url: str, token: str) -> None:
    """Refused exactly like a forged token: the answer tells nothing about why."""
    assert sign_in(url, token) == (401, FORGED), token


@pytest.fixture(scope="module")
def key_files(tmp_path_factory) -> Dict[str, str]:
    folder = tmp_path_factory.mktemp("keys")
    files = {"rsa": folder / "rsa.pem", "ec": folder / "ec.pem", "jwks": folder / "jwks.json", "weak": folder / "weak.pem"}
    files["rsa"].write_bytes(pem(RSA_KEY))
    files["ec"].write_bytes(pem(EC_KEY))
    files["weak"].write_bytes(pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)))
    files["jwks"].write_text(json.dumps({"keys": [jwk(RSA_KEY, "r1"), jwk(EC_KEY, "e1"),
                                                  {**jwk(OTHER_RSA_KEY, "enc-1"), "use": "enc"}]}))
    return {name: str(path) for name, path in files.items()}


@pytest.fixture(scope="module")
def production(tmp_path_factory, key_files):
    """Production with an HS256 secret beside a JWKS, and an issuer and audience required."""
    with production_service(tmp_path_factory.mktemp("production"), CUSTOMER_TOKEN_SECRET=OPERATOR_SECRET,
                            CUSTOMER_TOKEN_JWKS_FILE=key_files["jwks"], CUSTOMER_TOKEN_ISSUER=ISSUER,
                            CUSTOMER_TOKEN_AUDIENCE=AUDIENCE) as url:
        yield url


@pytest.fixture(scope="module", params=["rsa", "ec"])
def public_key_only(request, tmp_path_factory, key_files):
    """Production with one PEM public key and no shared secret at all."""
    with production_service(tmp_path_factory.mktemp("pem"), CUSTOMER_TOKEN_SECRET=None,
                            CUSTOMER_TOKEN_PUBLIC_KEY_FILE=key_files[request.param]) as url:
        yield url, request.param


@pytest.fixture(scope="module")
def demo_published_only(tmp_path_factory):
    """Demo mode as `make run` has it: no CUSTOMER_TOKEN_SECRET, so only the published one."""
    with running(tmp_path_factory.mktemp("demo"), CUSTOMER_TOKEN_SECRET=None) as url:
        yield url


@pytest.fixture(scope="module")
def demo_with_operator_secret(tmp_path_factory):
    with running(tmp_path_factory.mktemp("demo-secret"), CUSTOMER_TOKEN_SECRET=OPERATOR_SECRET) as url:
        yield url


# --- production refuses to start ------------------------------------------------------------

def refused_start(env: Dict[str, str], module: str = "bot.server") -> str:
    """Runs ``python -m <module>``; it must exit with status 2 before listening. Its stderr."""
    port = env.get("CONTACT_PORT")
    done = subprocess.run([sys.executable, "-m", module], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr[-3000:]
    if port:
        with pytest.raises(urllib.error.URLError):  # nothing ever listened there
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
    return done.stderr


def test_production_with_nothing_set_names_every_missing_secret_at_once(tmp_path):
    message = refused_start(production_env(tmp_path, CUSTOMER_TOKEN_SECRET=None, SESSION_SECRET=None, PERSONAL_DATA_KEY=None))
    for variable in ("CUSTOMER_TOKEN_SECRET is not set", "SESSION_SECRET is not set", "PERSONAL_DATA_KEY is not set"):
        assert variable in message, message
    assert "Traceback" not in message


def test_the_launcher_refuses_before_it_starts_anything(tmp_path):
    """Rasa would take a minute to load: the launcher checks first (the model does not even exist)."""
    env = production_env(tmp_path, CUSTOMER_TOKEN_SECRET=DEMO_CUSTOMER_TOKEN_SECRET)
    started = time.monotonic()
    message = refused_start({**env, "CONTACT_PORT": str(free_port())}, module="bot.launcher")
    assert "CUSTOMER_TOKEN_SECRET is the demo secret" in message and time.monotonic() - started < 30


P384 = ec.generate_private_key(ec.SECP384R1())
UNSAFE = {  # one unsafe setting each (a name of key_files stands for that file) → what the refusal must name
    "the published demo secret": ({"CUSTOMER_TOKEN_SECRET": DEMO_CUSTOMER_TOKEN_SECRET}, "CUSTOMER_TOKEN_SECRET is the demo secret"),
    "a 31-byte identity secret": ({"CUSTOMER_TOKEN_SECRET": "x" * 31}, "CUSTOMER_TOKEN_SECRET is shorter than 32 bytes"),
    "a 31-byte session secret": ({"SESSION_SECRET": "s" * 31}, "SESSION_SECRET is shorter than 32 bytes"),
    "the session secret reused": ({"SESSION_SECRET": OPERATOR_SECRET}, "SESSION_SECRET must differ from CUSTOMER_TOKEN_SECRET"),
    "a personal-data key that is no key": ({"PERSONAL_DATA_KEY": "not-a-fernet-key"}, "PERSONAL_DATA_KEY is not a Fernet key"),
    "a short metrics token": ({"METRICS_TOKEN": "metrics"}, "METRICS_TOKEN is shorter than 32 bytes"),
    "a short Rasa token": ({"RASA_API_TOKEN": "rasa"}, "RASA_API_TOKEN is shorter than 32 bytes"),
    "a short Telegram webhook secret": ({"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_WEBHOOK_SECRET": "short"},
                                        "TELEGRAM_WEBHOOK_SECRET is shorter than 32 bytes"),
    "a mail password in clear": ({"EMAIL_IMAP_HOST": "mail.example.com", "EMAIL_IMAP_TLS": "none", "EMAIL_IMAP_USERNAME": "service",
                                  "EMAIL_IMAP_PASSWORD": "mail-password"}, "EMAIL_IMAP_TLS=none would send EMAIL_IMAP_PASSWORD in clear"),
    "a JWKS file that is not there": ({"CUSTOMER_TOKEN_SECRET": None, "CUSTOMER_TOKEN_JWKS_FILE": "/nonexistent/jwks.json"},
                                      "CUSTOMER_TOKEN_JWKS_FILE (/nonexistent/jwks.json) cannot be read"),
    "a 1024-bit RSA key": ({"CUSTOMER_TOKEN_SECRET": None, "CUSTOMER_TOKEN_PUBLIC_KEY_FILE": "weak"}, "an RSA key needs at least 2048 bits"),
    "a PEM file and a JWKS file": ({"CUSTOMER_TOKEN_PUBLIC_KEY_FILE": "rsa", "CUSTOMER_TOKEN_JWKS_FILE": "jwks"}, "not both"),
}


@pytest.mark.parametrize("unsafe", UNSAFE, ids=list(UNSAFE))
def test_production_refuses_each_unsafe_setting(tmp_path, key_files, unsafe):
    changes, named = UNSAFE[unsafe]
    changes = {name: key_files.get(value, value) for name, value in changes.items()}
    assert named in refused_start(production_env(tmp_path, **changes))


def test_32_bytes_are_enough_and_a_public_key_needs_no_secret(key_files):
    good = dict(demo=False, customer_token_secret="c" * 32, session_secret="s" * 32, personal_data_key=Fernet.generate_key().decode(),
                rasa_token="")
    assert problems(Settings(**good), environ={}) == []
    assert problems(Settings(**{**good, "customer_token_secret": "", "customer_token_jwks_file": key_files["jwks"]}), environ={}) == []
    assert problems(Settings(**{**good, "demo": True, "customer_token_secret": DEMO_CUSTOMER_TOKEN_SECRET}), environ={}) == []


@pytest.mark.parametrize("document, refusal", [
    ("not json", "is not JSON"),
    ({"keys": [{**jwk(RSA_KEY, "r1"), "kid": None}]}, "has no kid"),
    ({"keys": [jwk(RSA_KEY, "r1"), jwk(EC_KEY, "r1")]}, "two keys have the kid 'r1'"),
    ({"keys": [{"kty": "oct", "k": b64(OPERATOR_SECRET.encode()), "kid": "shared"}]}, "only public RSA keys"),
    ({"keys": [{**json.loads(RSAAlgorithm.to_jwk(RSA_KEY)), "kid": "private"}]}, "only public RSA keys"),
    ({"keys": [{**jwk(P384, "p384")}]}, "only public RSA keys"),
    ({"keys": [{**jwk(RSA_KEY, "r1"), "alg": "PS256"}]}, "only RS256 and ES256"),
    ({"keys": [{**jwk(RSA_KEY, "r1"), "alg": "ES256"}]}, "not a usable JWK"),
    ({"keys": [{**jwk(RSA_KEY, "enc"), "use": "enc"}]}, "holds no signing key"),
])
def test_an_unusable_jwks_file_is_named(tmp_path, document, refusal):
    path = tmp_path / "jwks.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    with pytest.raises(IdentityKeyError, match=refusal):
        read_jwks_file(str(path))


def test_a_pem_file_without_a_usable_public_key_is_named(tmp_path):
    path = tmp_path / "key.pem"
    for content, refusal in ((b"hello", "holds no PEM public key"), (pem(P384), "P-256"),
                             (RSA_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()), "holds no PEM public key")):
        path.write_bytes(content)
        with pytest.raises(IdentityKeyError, match=refusal):
            read_public_key_file(str(path))


# --- production: only what the operator configured signs anyone in --------------------------

def test_production_accepts_the_operator_secret_and_both_jwks_algorithms(production):
    assert_signed_in(production, jwt.encode(claims(), OPERATOR_SECRET, algorithm="HS256"))
    assert_signed_in(production, jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "r1"}))
    assert_signed_in(production, jwt.encode(claims(), EC_KEY, algorithm="ES256", headers={"kid": "e1"}))


def test_production_refuses_forged_identity_tokens(production, key_files):
    valid = jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "r1"})
    header, payload, signature = valid.split(".")
    other_subject = b64(json.dumps(claims(subject="demo-private")).encode())
    forgeries = {
        "the published demo secret": jwt.encode(claims(), DEMO_CUSTOMER_TOKEN_SECRET, algorithm="HS256"),
        "alg none": handmade({"alg": "none", "typ": "JWT"}, claims()),
        "alg None": handmade({"alg": "None"}, claims()),
        "HS256 keyed with the public PEM": handmade({"alg": "HS256", "kid": "r1"}, claims(), Path(key_files["rsa"]).read_bytes()),
        "HS256 keyed with the JWKS": handmade({"alg": "HS256"}, claims(), Path(key_files["jwks"]).read_bytes()),
        "expired": jwt.encode(claims(lifetime=-10), RSA_KEY, algorithm="RS256", headers={"kid": "r1"}),
        "living 16 minutes": jwt.encode(claims(lifetime=16 * 60), EC_KEY, algorithm="ES256", headers={"kid": "e1"}),
        "no kid": jwt.encode(claims(), RSA_KEY, algorithm="RS256"),
        "an unknown kid": jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "r2"}),
        "a kid that is a list": handmade({"alg": "RS256", "kid": ["r1"]}, claims()),
        "an encryption key's kid": jwt.encode(claims(), OTHER_RSA_KEY, algorithm="RS256", headers={"kid": "enc-1"}),
        "another key under a known kid": jwt.encode(claims(), OTHER_RSA_KEY, algorithm="RS256", headers={"kid": "r1"}),
        "ES256 under the RSA kid": jwt.encode(claims(), EC_KEY, algorithm="ES256", headers={"kid": "r1"}),
        "RS256 under the EC kid": jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "e1"}),
        "PS256": jwt.encode(claims(), RSA_KEY, algorithm="PS256", headers={"kid": "r1"}),
        "a tampered subject": f"{header}.{other_subject}.{signature}",
        "no signature": f"{header}.{payload}.",
        "no issuer": jwt.encode(claims(iss=None), RSA_KEY, algorithm="RS256", headers={"kid": "r1"}),
        "another issuer": jwt.encode(claims(iss="https://attacker.example"), OPERATOR_SECRET, algorithm="HS256"),
        "no audience": jwt.encode(claims(aud=None), EC_KEY, algorithm="ES256", headers={"kid": "e1"}),
        "no iat": jwt.encode(claims(iat=None), OPERATOR_SECRET, algorithm="HS256"),
        "no exp": jwt.encode(claims(exp=None), OPERATOR_SECRET, algorithm="HS256"),
        "a header that is no JSON": f"{b64(b'[' * 5000)}.{payload}.{signature}",
    }
    for name, token in forgeries.items():
        status, answer = sign_in(production, token)
        assert (status, answer) == (401, FORGED), name


def test_production_has_no_demo_signer(production):
    """Not a 404 of its own, which would show that the demo exists but is off: the route is not there."""
    nothing = http(f"{production}/demo/nothing-here")
    assert nothing[0] == 404
    for customer_id in ("demo-standard", REAL_CUSTOMER):
        signer = http(f"{production}/demo/identity-token?customer_id={customer_id}")
        assert json.dumps(signer).replace("identity-token", "nothing-here") == json.dumps(nothing)  # the path aside


def test_a_public_key_alone_accepts_its_own_algorithm_only(public_key_only, key_files):
    url, kind = public_key_only
    own, other = (RSA_KEY, "RS256"), (EC_KEY, "ES256")
    if kind == "ec":
        own, other = other, own
    token = jwt.encode(claims(iss=None, aud=None), own[0], algorithm=own[1])
    assert_signed_in(url, token)
    for forged in (jwt.encode(claims(iss=None, aud=None), other[0], algorithm=other[1]),
                   jwt.encode(claims(iss=None, aud=None), OPERATOR_SECRET, algorithm="HS256"),  # no secret is set: no HS256
                   jwt.encode(claims(iss=None, aud=None), DEMO_CUSTOMER_TOKEN_SECRET, algorithm="HS256"),
                   handmade({"alg": "HS256", "typ": "JWT"}, claims(iss=None, aud=None), Path(key_files[kind]).read_bytes()),
                   handmade({"alg": "none"}, claims(iss=None, aud=None))):
        assert_refused(url, forged)


# --- demo mode: the published secret and the signer vouch for the demo customers only --------

def test_the_demo_signer_tells_nothing_about_real_customers(demo_published_only):
    real = http(f"{demo_published_only}/demo/identity-token?customer_id={REAL_CUSTOMER}")
    unknown = http(f"{demo_published_only}/demo/identity-token?customer_id=nobody-like-this")
    assert real == unknown and real[0] == 404, (real, unknown)
    status, answer = http(f"{demo_published_only}/demo/identity-token?customer_id=demo-standard")
    assert status == 200
    assert_signed_in(demo_published_only, answer["identity_token"], "demo-standard")


@pytest.mark.parametrize("service", ["demo_published_only", "demo_with_operator_secret"])
def test_the_published_secret_cannot_sign_in_an_imported_customer(request, service):
    url = request.getfixturevalue(service)
    assert_refused(url, jwt.encode(claims(iss=None, aud=None), DEMO_CUSTOMER_TOKEN_SECRET, algorithm="HS256"))
    assert_signed_in(url, jwt.encode(claims("demo-premier", iss=None, aud=None), DEMO_CUSTOMER_TOKEN_SECRET, algorithm="HS256"),
                     "demo-premier")


def test_an_operator_secret_signs_in_every_customer_in_demo_mode(demo_with_operator_secret):
    assert_signed_in(demo_with_operator_secret, jwt.encode(claims(iss=None, aud=None), OPERATOR_SECRET, algorithm="HS256"))
    status, answer = http(f"{demo_with_operator_secret}/demo/identity-token?customer_id={REAL_CUSTOMER}")
    assert status == 404  # the signer still signs for the demo customers only


def test_the_demo_staff_accounts_open_nothing_once_production_runs_on_the_database(tmp_path):
    """`make run` printed the demo supervisor's token and the demo passwords; a database that
    once ran the demo and now runs in production must not let them in."""
    with running(tmp_path) as url:  # demo mode: demo-supervisor and demo-agent are seeded
        assert http(f"{url}/api/v1/staff/complaints", Authorization=f"Bearer {staff.demo_token()}")[0] == 200
    with production_service(tmp_path, CUSTOMER_TOKEN_SECRET=OPERATOR_SECRET) as url:
        assert http(f"{url}/api/v1/staff/complaints", Authorization=f"Bearer {staff.demo_token()}")[0] == 401
        for account in (staff.DEMO_SUPERVISOR, staff.DEMO_AGENT):
            status, answer = http(f"{url}/console/api/login", "POST", {"id": account, "password": staff.demo_password(account)})
            assert status == 401, answer
