"""Suitability through the contact service (issue #15, item 3): a verified customer's profile
reaches the answer about buying a product, on SQLite and on PostgreSQL alike."""

import pytest

from tests.support.clients import Client
from tests.support.system import IN_HOURS, identity_token
from tests.support.trackers import DISCLOSURE


pytestmark = pytest.mark.clock(IN_HOURS)  # a fixed day (demo assessments stay valid or expired as they are)


BUYING_STEPS = ("「买入」", "交易密码", "Buy, enter the amount", "trading password")


def text_of(answer) -> str:
    return "\n".join(r["text"] for r in answer["replies"])


def buttons_of(answer):
    return [b["title"] for r in answer["replies"] for b in r.get("buttons") or []]


def verified(system, customer_id: str) -> Client:
    client = Client(system.contact_url)
    client.start(identity_token=identity_token(customer_id))
    return client


def test_verified_c2_asking_for_an_r4_product_is_told_it_is_above_their_level(system):
    customer = verified(system, "demo-standard")
    answer = customer.say("我能买长青成长精选股票吗")
    text = text_of(answer)
    assert "长青成长精选股票（EG-EQ04）的风险等级为 R4，高于您的风险测评结果 C2（稳健型）" in text
    assert "我的 → 风险测评" in text and "理财顾问" in text
    assert not any(step in text for step in BUYING_STEPS)
    assert answer["replies"][0]["disclosure"] == DISCLOSURE["zh"]
    assert buttons_of(answer) == ["预约理财顾问"]
    # The offered advisor appointment starts the booking, still in Chinese.
    assert "您想在哪个城市的网点与理财顾问面谈" in text_of(customer.tap(answer, "预约理财顾问"))
    assert "本次没有预约面谈" in text_of(customer.say("算了，不约了"))  # this customer's later tests start afresh


def test_the_same_in_english(system):
    answer = verified(system, "demo-standard").say("Can I buy Evergreen Growth Equity Select?")
    text = text_of(answer)
    assert "risk level R4, which is above your assessed risk level C2 (moderately conservative)" in text
    assert not any(step in text for step in BUYING_STEPS)
    assert answer["replies"][0]["disclosure"] == DISCLOSURE["en"]
    assert buttons_of(answer) == ["Book an advisor"]


def test_verified_c2_gets_the_steps_for_a_product_within_their_level(system):
    answer = verified(system, "demo-standard").say("我想买长青稳盈债券A")
    text = text_of(answer)
    assert "在您的风险测评结果 C2（稳健型）可购买的范围内" in text and "起购金额 1,000 元" in text
    assert "「买入」" in text and answer["replies"][0]["disclosure"] == DISCLOSURE["zh"]


def test_private_equity_is_advisor_only_for_qualified_investors_whoever_asks(system):
    for customer in (verified(system, "demo-standard"), verified(system, "demo-private"), Client(system.contact_url)):
        if customer.session_token is None:
            customer.start()
        answer = customer.say("我想买私享股权一期")
        text = text_of(answer)
        assert "仅通过理财顾问销售" in text and "金融资产不低于 300 万元，或近 3 年年均收入不低于 50 万元" in text
        assert not any(step in text for step in BUYING_STEPS)
        assert answer["replies"][0]["disclosure"] == DISCLOSURE["zh"]
    english = verified(system, "demo-english").say("I want to buy the Evergreen Private Equity Fund I")
    text = text_of(english)
    assert "sold only through an advisor" in text and "at least 3,000,000 CNY" in text and "500,000 CNY" in text
    assert "above your assessed risk level C4 (growth)" in text
    assert not any(step in text for step in BUYING_STEPS)


def test_expired_assessment_must_be_renewed_before_buying(system):
    text = text_of(verified(system, "demo-expired").say("我能买长青货币宝吗"))
    assert "您的风险测评结果（C3）已于 2026-05-31 过期，须先重新测评" in text
    assert not any(step in text for step in BUYING_STEPS)


def test_anonymous_visitor_is_told_the_rule_and_where_to_check_their_level(system):
    visitor = Client(system.contact_url)
    visitor.start()
    text = text_of(visitor.say("Can I buy Evergreen Balanced Allocation?"))
    assert "no higher than your risk assessment result" in text and "C3 or higher" in text
    assert "我的 → 风险测评 (Me → Risk assessment)" in text
    assert not any(step in text for step in BUYING_STEPS)


def test_verified_customer_asking_their_risk_level_gets_it_with_its_meaning_and_expiry(system):
    customer = verified(system, "demo-standard")
    text = text_of(customer.say("我的风险等级是什么"))
    assert "您的风险测评结果为 C2（稳健型），有效期至 2027-03-31" in text and "R1–R2" in text
    text = text_of(customer.say("What is my risk level?"))
    assert "Your risk assessment result is C2 (moderately conservative), valid until 2027-03-31" in text
    assert "R1–R2" in text


def test_expired_or_unknown_risk_level_asked_for(system):
    text = text_of(verified(system, "demo-expired").say("我的风险等级是什么"))
    assert "C3（平衡型）已于 2026-05-31 过期" in text and "我的 → 风险测评" in text
    visitor = Client(system.contact_url)
    visitor.start()
    text = text_of(visitor.say("What is my risk level?"))
    assert "我的 → 风险测评 (Me → Risk assessment)" in text and "valid until" not in text


def test_a_purchase_question_about_a_kind_of_several_products_asks_which_and_judges_the_choice(system):
    customer = verified(system, "demo-premier")  # C3
    asked = customer.say("我能买债券基金吗")
    assert buttons_of(asked) == ["长青稳盈债券A", "长青美元收益"] and not any(s in text_of(asked) for s in BUYING_STEPS)
    text = text_of(customer.tap(asked, "长青美元收益"))
    assert "长青美元收益（EG-FX06）的风险等级为 R3，在您的风险测评结果 C3（平衡型）可购买的范围内" in text
    assert "起购金额 1,000 美元" in text and "「买入」" in text
