"""Customers chat through the contact service, on SQLite and on PostgreSQL alike."""

import asyncio
import json
import secrets
import urllib.request

import websockets
import yaml

from tests.support.clients import Client
from tests.support.system import identity_token
from tests.support.trackers import DISCLOSURE


def test_anonymous_visitor_gets_answers_with_the_disclosure_split_off(client):
    session = client.start()
    assert session["customer"] == {"verified": False, "tier": "standard", "name": None, "language": "zh"}
    answer = client.say("长青货币宝起购金额是多少")
    assert answer["message"]["text"] == "长青货币宝起购金额是多少"
    reply = answer["replies"][0]
    assert reply["sender"] == "bot"
    assert "起购金额为 100 元" in reply["text"]
    assert reply["disclosure"] == DISCLOSURE["zh"] and DISCLOSURE["zh"] not in reply["text"]
    assert reply["created_at"].endswith("+08:00")


def test_resend_with_the_same_client_id_is_stored_once(client):
    client.start()
    first = client.say("What products do you have?", client_message_id="resend-1")
    again = client.say("What products do you have?", client_message_id="resend-1")
    assert again["duplicate"] is True
    assert again["message"]["id"] == first["message"]["id"]
    assert [r["id"] for r in again["replies"]] == [r["id"] for r in first["replies"]]
    texts = [m["text"] for m in client.history() if m["direction"] == "in"]
    assert texts.count("What products do you have?") == 1


def test_history_survives_a_new_session_of_the_same_visitor(system):
    browser = Client(system.contact_url)
    browser.start()
    browser.say("上海网点在哪")
    reloaded = Client(system.contact_url)
    reloaded.visitor_token = browser.visitor_token
    reloaded.start()
    history = reloaded.history()
    assert [m["sender"] for m in history] == ["customer", "bot"]
    assert "世纪大道 888 号" in history[1]["text"]
    assert reloaded.history(after=history[0]["id"]) == history[1:]


def test_visitors_cannot_see_each_other(system):
    alice, bob = Client(system.contact_url), Client(system.contact_url)
    alice.start()
    bob.start()
    alice.say("我的手机号是13812345678，请回电")
    assert bob.history() == []
    forged = Client(system.contact_url)
    forged.session_token = alice.session_token[:-4] + "AAAA"
    status, answer, _ = forged.call("GET", "/api/v1/messages")
    assert status == 401 and answer["error"]["code"] == "unauthorized"


def test_personal_numbers_are_masked_before_they_are_stored(client):
    client.start()
    client.say("卡号6222 0212 3456 7890 123，身份证310101199001011234，手机13812345678")
    stored = client.history()[0]["text"]
    assert "6222 **** **** 0123" in stored and "310101********1234" in stored and "138****5678" in stored
    assert "13812345678" not in stored and "199001011234" not in stored


def test_verified_c2_customer_is_offered_only_r1_and_r2_products(client):
    session = client.start(identity_token=identity_token("demo-standard"))
    assert session["customer"]["verified"] and session["customer"]["tier"] == "standard"
    text = client.say("给我推荐一款适合我的产品")["replies"][0]["text"]
    assert "C2" in text and "EG-MM01" in text and "EG-BD02" in text
    for too_risky in ("EG-BL03", "EG-EQ04", "EG-PE05", "EG-FX06"):
        assert too_risky not in text


def test_a_verified_customer_has_one_conversation_across_sessions(system):
    web, app = Client(system.contact_url), Client(system.contact_url)
    first = web.start(identity_token=identity_token("demo-english"))
    web.say("hello")
    second = app.start(identity_token=identity_token("demo-english"), channel="app")
    assert first["conversation_id"] == second["conversation_id"]
    assert [m["text"] for m in app.history()][0] == "hello"


def test_only_a_verified_customer_gets_a_code_to_link_a_messaging_account(system):
    visitor, customer = Client(system.contact_url), Client(system.contact_url)
    visitor.start()
    status, answer, _ = visitor.call("POST", "/api/v1/link-codes")
    assert status == 403 and answer["error"]["code"] == "not_verified"
    customer.start(identity_token=identity_token("demo-private"))
    status, answer, _ = customer.call("POST", "/api/v1/link-codes")
    assert status == 200 and len(answer["code"]) == 8 and answer["expires_at"].endswith("+08:00")
    status, _, _ = Client(system.contact_url).call("POST", "/api/v1/link-codes", auth=False)
    assert status == 401


def test_forged_and_expired_identity_tokens_are_refused(client):
    for token in (identity_token("demo-private", lifetime=-10), "not-a-token",
                  identity_token("demo-private").rsplit(".", 1)[0] + ".forgedsignature",
                  identity_token("nobody-like-this")):
        status, answer, _ = client.call("POST", "/api/v1/sessions", {"identity_token": token}, auth=False)
        assert status == 401 and answer["error"]["code"] == "invalid_identity", token


def test_bad_messages_get_clear_errors_and_nothing_stored_is_lost(client):
    client.start()
    client.say("你好", client_message_id="keep-me")
    cases = [
        ({"text": "   ", "client_message_id": "e1"}, None, 422, "empty_message"),
        ({"text": "长" * 2001, "client_message_id": "e2"}, None, 413, "message_too_long"),
        ({"text": "hi"}, None, 400, "invalid_request"),
        (None, b'{"text": "hi", "client_message_id": ', 400, "invalid_request"),
        (None, b'{"text": "\xff\xfe", "client_message_id": "e3"}', 400, "invalid_request"),
        (None, b"[1, 2]", 400, "invalid_request"),
    ]
    for body, raw, status, code in cases:
        got, answer, _ = client.call("POST", "/api/v1/messages", body, raw=raw)
        assert (got, answer["error"]["code"]) == (status, code)
        assert answer["error"]["message"]
    assert [m["client_message_id"] for m in client.history() if m["direction"] == "in"] == ["keep-me"]


def test_html_in_a_message_is_kept_as_plain_text(client):
    client.start()
    text = "<script>alert(1)</script><b>hi</b>"
    assert client.say(text)["message"]["text"] == text


def test_a_flood_from_one_client_is_rate_limited_with_a_clear_message(client):
    client.start()
    statuses = []
    for index in range(22):
        status, answer, headers = client.call("POST", "/api/v1/messages", {"text": f"hi {index}", "client_message_id": f"flood-{index}"})
        statuses.append(status)
    assert statuses[:20] == [200] * 20
    assert statuses[20:] == [429, 429]
    assert answer["error"]["code"] == "rate_limited" and int(headers["Retry-After"]) >= 1


def test_websocket_delivers_the_message_typing_and_the_reply(client):
    client.start()
    url = client.base_url.replace("http://", "ws://") + f"/api/v1/ws?token={client.session_token}"

    async def chat():
        async with websockets.connect(url) as socket:
            await socket.send(json.dumps({"type": "message", "text": "what is the NAV of Steady Bond A", "client_message_id": secrets.token_hex(4)}))
            frames = []
            while not any(f["type"] == "message" and f["message"]["sender"] == "bot" for f in frames):
                frames.append(json.loads(await asyncio.wait_for(socket.recv(), 30)))
            await socket.send("not json")
            frames.append(json.loads(await asyncio.wait_for(socket.recv(), 10)))
            return frames

    frames = asyncio.run(chat())
    kinds = [(f["type"], f.get("on"), f.get("message", {}).get("sender")) for f in frames]
    assert kinds[:4] == [("message", None, "customer"), ("typing", True, None), ("typing", False, None), ("message", None, "bot")]
    assert "1.0832" in frames[3]["message"]["text"]
    assert frames[-1] == {"type": "error", "error": {"code": "invalid_request", "message": "The frame is not valid JSON."}}


def test_websocket_without_a_valid_session_is_refused(client):
    url = client.base_url.replace("http://", "ws://") + "/api/v1/ws?token=forged"

    async def connect():
        async with websockets.connect(url) as socket:
            return json.loads(await asyncio.wait_for(socket.recv(), 10))

    assert asyncio.run(connect())["error"]["code"] == "unauthorized"


def test_the_openapi_document_describes_the_served_api(client):
    with urllib.request.urlopen(client.base_url + "/api/v1/openapi.yaml", timeout=10) as response:
        spec = yaml.safe_load(response.read())
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) == {"/api/v1/sessions", "/api/v1/messages", "/api/v1/ws", "/api/v1/link-codes", "/health"}
    assert set(spec["paths"]["/api/v1/messages"]) == {"get", "post"}


def test_the_widget_may_call_the_api_from_the_firms_own_website(client):
    request = urllib.request.Request(
        client.base_url + "/api/v1/messages", method="OPTIONS",
        headers={"Origin": "https://www.evergreen-wealth.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Access-Control-Allow-Origin"] in ("*", "https://www.evergreen-wealth.example")
        assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()
    client.start()
    request = urllib.request.Request(
        client.base_url + "/api/v1/messages",
        headers={"Origin": "https://www.evergreen-wealth.example", "Authorization": f"Bearer {client.session_token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert "retry-after" in response.headers["Access-Control-Expose-Headers"].lower()  # the widget shows the wait


def test_health_tells_whether_the_assistant_answers(client):
    with urllib.request.urlopen(client.base_url + "/health", timeout=10) as response:
        assert json.loads(response.read()) == {"status": "ok", "rasa": True}
