"""The real Rasa server and action server on loopback, spoken to over HTTP as a customer would."""

import json
import urllib.error
import urllib.request

import pytest

from tests.support.trackers import DISCLOSURE


def post(assistant, body: bytes):
    request = urllib.request.Request(
        f"{assistant.rasa_url}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        # Without the marker each action sends ahead of its messages for the contact service
        # (what was understood, which action speaks: tests/channels/web cover it).
        return [r for r in json.loads(response.read()) if "understanding" not in (r.get("custom") or {})]


def say(assistant, sender, message):
    return post(assistant, json.dumps({"sender": sender, "message": message}).encode())


def test_minimum_of_cash_plus_in_chinese(assistant):
    replies = say(assistant, "rest-1", "长青货币宝起购金额是多少")
    text = "\n".join(r["text"] for r in replies)
    assert "长青货币宝（EG-MM01）的起购金额为 100 元" in text
    assert DISCLOSURE["zh"] in text


def test_english_question_gets_an_english_answer_with_its_date(assistant):
    replies = say(assistant, "rest-2", "What is the latest NAV of Evergreen USD Income?")
    text = "\n".join(r["text"] for r in replies)
    assert "1.0215 USD (as of 2026-11-27)" in text
    assert DISCLOSURE["en"] in text


def test_mixed_message_is_answered_in_chinese(assistant):
    text = "\n".join(r["text"] for r in say(assistant, "rest-3", "我想redeem货币宝"))
    assert "持仓 → 赎回" in text and "长青货币宝（EG-MM01）" in text


def test_repeated_misunderstanding_offers_a_person_and_the_button_works(assistant):
    say(assistant, "rest-4", "今天天气怎么样")
    offer = say(assistant, "rest-4", "给我讲个笑话")
    buttons = [b for r in offer for b in r.get("buttons", [])]
    assert [b["title"] for b in buttons] == ["联系人工客服", "不用了"]
    replies = say(assistant, "rest-4", buttons[0]["payload"])
    assert "正在为您转接人工客服" in replies[0]["text"]  # still in the customer's language
    assert replies[1]["custom"]["handoff"]["reason"] == "misunderstood"  # for the contact service


def test_conversations_are_kept_apart(assistant):
    say(assistant, "rest-5", "稳盈债券的风险等级是多少")
    follow_up = "\n".join(r["text"] for r in say(assistant, "rest-6", "那它的费率呢"))
    assert "EG-BD02" not in follow_up


def test_malformed_json_gets_a_clear_error_and_the_server_keeps_working(assistant):
    with pytest.raises(urllib.error.HTTPError) as error:
        post(assistant, b'{"sender": "rest-7", "message": ')
    assert error.value.code == 400
    assert say(assistant, "rest-7", "你好")


def test_empty_message_gets_the_did_not_understand_reply(assistant):
    text = "\n".join(r["text"] for r in say(assistant, "rest-8", ""))
    assert "抱歉，我没有理解您的意思" in text


def test_broken_unicode_is_still_answered(assistant):
    body = b'{"sender": "rest-9", "message": "\\ud800 hello, what products do you have?"}'
    text = "\n".join(r["text"] for r in post(assistant, body))
    assert "EG-MM01" in text and DISCLOSURE["en"] in text
