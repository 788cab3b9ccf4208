"""Reply language and product/city recognition."""

import pytest

from bot.language import detect_language, reply_language
from bot.nlu.entity_extractor import find_entities
from bot.products import asked_attributes, valid_risk_level
from datetime import date


@pytest.mark.parametrize(
    "text,expected",
    [
        ("长青货币宝起购金额是多少", "zh"),
        ("我想redeem货币宝", "zh"),
        ("How do I reset my password?", "en"),
        ("I want to buy 货币宝 today", "en"),
        ("EG-MM01", None),
        ("ok", None),
        ("👍", None),
        ("/request_human", None),
        ("C20261206-483928", None),
        ("CB20261206-483928", None),
        ("zhang.wei@example.com", None),
        ("okk", None),
        ("haha", None),
        ("emmm", None),
        ("Hello", "en"),
        ("长青货币宝 EG-MM01", "zh"),
    ],
)
def test_detect_language(text, expected):
    assert detect_language(text) == expected


def test_messages_without_a_language_keep_the_conversation_language():
    assert reply_language("ok", "zh") == "zh"
    assert reply_language("/deny", "en") == "en"
    assert reply_language("ok", None) == "en"
    assert reply_language("好", None) == "zh"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("我想redeem货币宝", [("product", "EG-MM01", "货币宝")]),
        ("what's the NAV of evergreen steady bond a?", [("product", "EG-BD02", "evergreen steady bond a")]),
        ("稳盈债券A和长青美元收益哪个好", [("product", "EG-BD02", "稳盈债券A"), ("product", "EG-FX06", "长青美元收益")]),
        ("MM012 is not a product", []),
        ("上海和Beijing的网点", [("city", "Shanghai", "上海"), ("city", "Beijing", "Beijing")]),
        ("PE05 minimum", [("product", "EG-PE05", "PE05")]),
    ],
)
def test_products_and_cities_are_found_with_canonical_values(text, expected):
    found = [(e["entity"], e["value"], text[e["start"] : e["end"]]) for e in find_entities(text)]
    assert found == expected


def test_attributes_asked():
    assert asked_attributes("货币宝赎回要多久到账") == ["redemption"]
    assert asked_attributes("Steady Bond minimum and fees") == ["minimum", "fees"]
    assert asked_attributes("tell me about Cash Plus") == []


def test_risk_level_validity():
    today = date(2026, 11, 28)
    assert valid_risk_level("c3", "2027-01-01", today) == "C3"
    assert valid_risk_level("C3", "2026-11-27", today) is None
    assert valid_risk_level("C9", None, today) is None
    assert valid_risk_level(None, None, today) is None
