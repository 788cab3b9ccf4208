"""The suitability rule and its wording (bot/suitability.py), and the actions that use it."""

from datetime import date

import pytest
from rasa_sdk.events import SlotSet

from actions.faq import ActionAnswerFaq
from actions.products import ActionRecommendProducts
from actions.purchase import ActionAnswerPurchase
from bot.products import catalog, find_product
from bot.suitability import Assessment, asks_own_level, own_level_answer, permitted_product_levels, purchase_answer
from tests.support.trackers import DISCLOSURE, make_tracker, product_entity, run_action, texts


TODAY = date(2026, 11, 30)
STEPS = {"zh": "「买入」", "en": "Buy, enter the amount"}


@pytest.fixture(autouse=True)
def fixed_day(monkeypatch):
    """The actions judge the profiles below on TODAY, whenever the tests run."""
    monkeypatch.setenv("EVERGREEN_CLOCK", f"{TODAY.isoformat()}T10:00:00+08:00")


def profile(level, expires="2027-06-30", verified=True):
    return {"customer": {"verified": verified, "tier": "standard", "risk_level": level, "risk_expires": expires}}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("standing", ["C1", "C2", "C3", "C4", "C5", "expired", "unassessed", "unverified"])
def test_buying_steps_only_within_a_valid_verified_level(standing, lang):
    assessment = {
        "expired": Assessment(True, "C5", "2026-11-29"),
        "unassessed": Assessment(True, None, None),
        "unverified": Assessment(False, "C5", "2027-06-30"),  # a level without a verified identity counts for nothing
    }.get(standing, Assessment(True, standing, "2027-06-30"))
    for product in catalog():
        answer = purchase_answer([product], assessment, lang, TODAY)
        may_buy = standing.startswith("C") and product.risk_rank <= int(standing[1]) and product.code != "EG-PE05"
        assert answer.allowed == may_buy and (STEPS[lang] in answer.text) == may_buy, (product.code, answer.text)


def test_assessment_valid_through_its_last_day():
    assert Assessment(True, "c3", "2026-11-30").standing(TODAY) == "valid"
    assert Assessment(True, "C3", "2026-11-29").standing(TODAY) == "expired"
    assert Assessment(True, "C9", "2027-01-01").standing(TODAY) == "unassessed"


def test_several_products_get_each_verdict_and_the_steps_once():
    answer = purchase_answer([find_product("EG-MM01"), find_product("EG-EQ04")], Assessment(True, "C2", "2027-01-01"), "zh", TODAY)
    assert "长青货币宝（EG-MM01）的风险等级为 R1，在您的风险测评结果 C2（稳健型）可购买的范围内" in answer.text
    assert "长青成长精选股票（EG-EQ04）的风险等级为 R4，高于您的风险测评结果 C2（稳健型）" in answer.text
    assert answer.text.count("「买入」") == 1 and answer.offer_advisor


@pytest.mark.parametrize("text", ["我的风险等级是什么", "我是什么风险类型", "查一下我的测评结果", "What's my risk level?",
                                  "which risk category am i in", "tell me my risk profile"])
def test_questions_for_the_customers_own_level(text):
    assert asks_own_level(text)


@pytest.mark.parametrize("text", ["风险测评怎么做", "我想把风险等级调高一点", "how do i change my risk level",
                                  "how is my risk level calculated", "what does C3 mean", "我的测评过期了 买不了东西"])
def test_questions_about_the_questionnaire_are_not_about_the_own_level(text):
    assert not asks_own_level(text)


def test_permitted_levels_and_a_level_without_expiry():
    assert [permitted_product_levels(f"C{n}") for n in (1, 3, 5)] == ["R1", "R1–R3", "R1–R5"]
    answer = own_level_answer(Assessment(True, "C4", None), "en", TODAY)
    assert "C4 (growth)" in answer and "R1–R4" in answer and "valid for 12 months" in answer
    assert own_level_answer(Assessment(False, "C4", "2027-01-01"), "en", TODAY) is None


async def test_a_purchase_question_with_no_product_words_continues_the_product_talked_about():
    tracker = make_tracker("那我能买吗", "faq", faq="faq/purchase", slots={"product": "EG-EQ04"}, metadata=profile("C2"))
    messages, _ = await run_action(ActionAnswerFaq(), tracker)
    answer = texts(messages)
    assert "高于您的风险测评结果 C2" in answer and "「买入」" not in answer and answer.endswith(DISCLOSURE["zh"])
    assert messages[0]["buttons"] == [{"title": "预约理财顾问", "payload": "/book_appointment"}]


async def test_a_purchase_question_naming_a_product_we_do_not_sell_never_falls_back():
    tracker = make_tracker("我能买余额宝吗", "faq", faq="faq/purchase", slots={"product": "EG-MM01"}, metadata=profile("C2"))
    messages, events = await run_action(ActionAnswerFaq(), tracker)
    answer = texts(messages)
    assert "不是长青财富的产品" in answer and "「买入」" not in answer and "在您的风险测评结果" not in answer
    assert SlotSet("product", None) in events


async def test_a_purchase_question_about_no_product_gets_the_general_steps():
    tracker = make_tracker("怎么买基金", "faq", faq="faq/purchase", metadata=profile("C2"))
    answer = texts((await run_action(ActionAnswerFaq(), tracker))[0])
    assert "「买入」" in answer and "EG-" not in answer


async def test_a_kind_that_fits_several_products_is_asked_back_and_the_choice_gets_the_verdict():
    tracker = make_tracker("我能买债券基金吗", "faq", faq="faq/purchase", metadata=profile("C2"))
    messages, events = await run_action(ActionAnswerFaq(), tracker)
    payloads = [b["payload"] for m in messages for b in m.get("buttons") or []]
    assert payloads == ['/buy_product{"product": "EG-BD02"}', '/buy_product{"product": "EG-FX06"}']
    assert "「买入」" not in texts(messages)
    chosen = make_tracker(payloads[1], "buy_product", [product_entity("EG-FX06")], slots={"language": "zh"},
                          metadata=profile("C2"))
    answer = texts((await run_action(ActionAnswerPurchase(), chosen))[0])
    assert "长青美元收益（EG-FX06）的风险等级为 R3，高于您的风险测评结果 C2（稳健型）" in answer and "「买入」" not in answer


async def test_a_recommendation_naming_a_product_gets_the_verdict_without_steps():
    tracker = make_tracker("is Balanced Allocation right for me", "recommend_product", [product_entity("EG-BL03")],
                           metadata=profile("C3"))
    messages, events = await run_action(ActionRecommendProducts(), tracker)
    answer = texts(messages)
    assert "within what your risk assessment result C3 (balanced) allows you to buy; the minimum is 10,000 CNY" in answer
    assert "Buy, enter the amount" not in answer and answer.endswith(DISCLOSURE["en"])
    assert {"event": "slot", "timestamp": None, "name": "product", "value": "EG-BL03"} in events


async def test_a_level_in_the_slots_counts_only_with_a_verified_profile_on_the_message():
    tracker = make_tracker("can i buy Growth Equity", "faq", [product_entity("EG-EQ04")], faq="faq/purchase",
                           slots={"customer_risk_level": "C5", "customer_risk_expires": "2099-01-01"})
    answer = texts((await run_action(ActionAnswerFaq(), tracker))[0])
    assert "no higher than your risk assessment result" in answer and "Buy, enter the amount" not in answer


async def test_own_level_through_the_faq_action():
    tracker = make_tracker("我的风险等级是多少", "faq", faq="faq/risk_assessment", metadata=profile("C1", "2027-02-28"))
    answer = texts((await run_action(ActionAnswerFaq(), tracker))[0])
    assert "您的风险测评结果为 C1（保守型），有效期至 2027-02-28。您可以购买风险等级 R1 的产品。" in answer


async def test_a_purchase_question_that_asks_more_gets_that_too():
    tracker = make_tracker("成长精选能买吗，要锁定多久", "faq", [product_entity("EG-EQ04")], faq="faq/purchase",
                           metadata=profile("C4"))
    answer = texts((await run_action(ActionAnswerFaq(), tracker))[0])
    assert "在您的风险测评结果 C4（成长型）可购买的范围内" in answer and "「买入」" in answer
    assert "长青成长精选股票（EG-EQ04）的锁定期/期限：无锁定期" in answer


async def test_a_questionnaire_question_naming_a_product_adds_its_risk_level():
    tracker = make_tracker("测评要到什么等级才能买成长精选", "faq", [product_entity("EG-EQ04")], faq="faq/risk_assessment")
    answer = texts((await run_action(ActionAnswerFaq(), tracker))[0])
    assert "我的 → 风险测评" in answer and "长青成长精选股票（EG-EQ04）的风险等级为 R4，适合风险测评结果为 C4 及以上的客户" in answer
    assert answer.endswith(DISCLOSURE["zh"])

