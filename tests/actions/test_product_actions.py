"""Product answers carry the spec's figures, in the customer's language, with the disclosure."""

import pytest
from rasa_sdk.events import SlotSet

from actions.products import ActionAnswerProduct, ActionListProducts, ActionMarketUpdate, ActionRecommendProducts
from tests.support.trackers import DISCLOSURE, make_tracker, product_entity, run_action, texts

# product code → (question, fact the answer must contain), per language and attribute,
# straight from the spec's product table.
FACTS = {
    ("EG-MM01", "minimum"): ("长青货币宝起购金额是多少", "100 元", "What's the minimum for Cash Plus?", "100 CNY"),
    ("EG-BD02", "minimum"): ("稳盈债券最低买多少", "1,000 元", "minimum investment steady bond", "1,000 CNY"),
    ("EG-PE05", "minimum"): ("私享股权起投多少", "1,000,000 元", "min amount for PE05", "1,000,000 CNY"),
    ("EG-FX06", "minimum"): ("美元收益起购门槛", "1,000 美元", "USD Income minimum?", "1,000 USD"),
    ("EG-EQ04", "fees"): ("成长精选的手续费", "1.5%", "fees on Growth Equity", "1.5%"),
    ("EG-BD02", "fees"): ("稳盈收费吗", "0.6%", "Steady Bond A charges", "0.6%"),
    ("EG-PE05", "fees"): ("私享股权管理费", "20% 业绩报酬", "PE05 fee", "20% performance fee"),
    ("EG-MM01", "fees"): ("货币宝有申购费吗", "免认购费", "any fee on Cash Plus", "subscription fee none"),
    ("EG-BD02", "risk"): ("稳盈的风险等级", "R2", "risk level of Steady Bond", "R2"),
    ("EG-PE05", "risk"): ("私享股权风险高吗", "R5", "is PE05 risky", "R5"),
    ("EG-MM01", "redemption"): ("货币宝赎回多久到账", "10,000 元以内实时到账", "Cash Plus redemption", "instant (T+0) up to 10,000 CNY a day"),
    ("EG-EQ04", "redemption"): ("成长精选赎回费", "不足 7 天收取 1.5%", "redeem Growth Equity fee", "1.5% if held less than 7 days"),
    ("EG-FX06", "redemption"): ("美元收益赎回到账时间", "T+5", "USD Income redemption", "T+5"),
    ("EG-BL03", "lockup"): ("平衡配置有锁定期吗", "90 天锁定期", "Balanced Allocation lock-up", "90-day lock-up"),
    ("EG-PE05", "lockup"): ("私享股权封闭期多久", "5 年", "PE05 term", "5-year term"),
    ("EG-MM01", "latest"): ("货币宝收益率多少", "1.85%", "Cash Plus yield", "1.85%"),
    ("EG-BD02", "latest"): ("稳盈最新净值", "1.0832", "Steady Bond NAV", "1.0832"),
    ("EG-EQ04", "latest"): ("成长精选净值", "0.9675", "Growth Equity NAV", "0.9675"),
    ("EG-FX06", "latest"): ("美元收益净值", "1.0215 美元", "USD Income nav", "1.0215 USD"),
}


@pytest.mark.parametrize("code,attribute", sorted(FACTS))
@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_each_attribute_is_answered_with_the_spec_figure(code, attribute, lang):
    zh_question, zh_fact, en_question, en_fact = FACTS[(code, attribute)]
    question, fact = (zh_question, zh_fact) if lang == "zh" else (en_question, en_fact)
    messages, events = await run_action(
        ActionAnswerProduct(), make_tracker(question, "product_info", [product_entity(code)])
    )
    answer = texts(messages)
    assert fact in answer
    assert code in answer
    assert answer.endswith(DISCLOSURE[lang])
    assert SlotSet("product", code) in events
    assert SlotSet("language", lang) in events


async def test_latest_figures_name_their_date():
    messages, _ = await run_action(
        ActionAnswerProduct(), make_tracker("what's the NAV of Balanced Allocation", "product_info", [product_entity("EG-BL03")])
    )
    assert "1.2410 (as of 2026-11-27)" in texts(messages)


async def test_private_equity_has_no_daily_nav():
    messages, _ = await run_action(
        ActionAnswerProduct(), make_tracker("私享股权净值多少", "product_info", [product_entity("EG-PE05")])
    )
    assert "按季度披露" in texts(messages)


async def test_no_attribute_asked_gives_a_profile():
    messages, _ = await run_action(
        ActionAnswerProduct(), make_tracker("tell me about Steady Bond A", "product_info", [product_entity("EG-BD02")])
    )
    assert "Evergreen Steady Bond A (EG-BD02): bond fund, risk level R2, minimum 1,000 CNY." in texts(messages)


async def test_follow_up_question_uses_the_product_talked_about():
    tracker = make_tracker("那它的费率呢", "product_info", slots={"product": "EG-EQ04", "language": "zh"})
    messages, _ = await run_action(ActionAnswerProduct(), tracker)
    assert "长青成长精选股票（EG-EQ04）的费用" in texts(messages)


async def test_two_products_are_both_described():
    tracker = make_tracker(
        "货币宝和稳盈哪个风险低", "product_info", [product_entity("EG-MM01"), product_entity("EG-BD02")]
    )
    answer = texts((await run_action(ActionAnswerProduct(), tracker))[0])
    assert "R1" in answer and "R2" in answer


async def test_unknown_product_asks_which_and_names_the_catalog():
    messages, _ = await run_action(ActionAnswerProduct(), make_tracker("这个产品怎么样", "product_info"))
    answer = texts(messages)
    assert "请问您想了解哪一款产品" in answer
    assert "长青货币宝" in answer and "长青美元收益" in answer
    assert answer.endswith(DISCLOSURE["zh"])


async def test_product_list_names_all_six():
    messages, _ = await run_action(ActionListProducts(), make_tracker("what products do you have", "product_list"))
    answer = texts(messages)
    for code in ("EG-MM01", "EG-BD02", "EG-BL03", "EG-EQ04", "EG-PE05", "EG-FX06"):
        assert code in answer
    assert "qualified investors only" in answer
    assert answer.endswith(DISCLOSURE["en"])


@pytest.mark.parametrize(
    "question,expected",
    [
        ("有哪些低风险的产品", {"EG-MM01", "EG-BD02"}),
        ("any high risk funds?", {"EG-EQ04", "EG-PE05"}),
        ("有美元产品吗", {"EG-FX06"}),
        ("show me R3 products", {"EG-BL03", "EG-FX06"}),
    ],
)
async def test_product_list_filters(question, expected):
    answer = texts((await run_action(ActionListProducts(), make_tracker(question, "product_list")))[0])
    listed = {code for code in ("EG-MM01", "EG-BD02", "EG-BL03", "EG-EQ04", "EG-PE05", "EG-FX06") if code in answer}
    assert listed == expected


@pytest.mark.parametrize("lang,question", [("zh", "推荐一款适合我的产品"), ("en", "what should I buy?")])
async def test_unknown_risk_level_gets_no_product_named(lang, question):
    answer = texts((await run_action(ActionRecommendProducts(), make_tracker(question, "recommend_product")))[0])
    assert not any(code in answer for code in ("EG-", "货币宝", "Cash Plus", "稳盈", "Steady"))
    assert ("风险测评" in answer and "理财顾问" in answer) if lang == "zh" else ("questionnaire" in answer and "advisor" in answer)
    assert answer.endswith(DISCLOSURE[lang])


async def test_recommendation_stays_within_the_customer_risk_level():
    tracker = make_tracker(
        "what suits me", "recommend_product", slots={"customer_risk_level": "C3", "customer_risk_expires": "2099-01-01"}
    )
    answer = texts((await run_action(ActionRecommendProducts(), tracker))[0])
    for allowed in ("EG-MM01", "EG-BD02", "EG-BL03", "EG-FX06"):
        assert allowed in answer
    for too_risky in ("EG-EQ04", "EG-PE05"):
        assert too_risky not in answer
    assert "not investment advice" in answer and "advisor" in answer
    assert answer.endswith(DISCLOSURE["en"])


async def test_expired_risk_assessment_must_be_renewed_first():
    tracker = make_tracker(
        "给我推荐", "recommend_product", slots={"customer_risk_level": "C5", "customer_risk_expires": "2020-01-01"}
    )
    answer = texts((await run_action(ActionRecommendProducts(), tracker))[0])
    assert "已过期" in answer
    assert "EG-" not in answer


@pytest.mark.parametrize("lang,question", [("zh", "今天行情怎么样"), ("en", "how are the markets today?")])
async def test_market_brief_has_its_date_and_the_disclosure(lang, question):
    answer = texts((await run_action(ActionMarketUpdate(), make_tracker(question, "market_update")))[0])
    assert "2026-11-27" in answer
    assert answer.endswith(DISCLOSURE[lang])


async def test_a_kind_that_fits_several_products_is_asked_back_with_buttons():
    messages, events = await run_action(ActionAnswerProduct(), make_tracker("债券基金赎回几天到账", "product_info"))
    (asked,) = messages
    assert "哪一款" in asked["text"]
    assert [b["title"] for b in asked["buttons"]] == ["长青稳盈债券A", "长青美元收益"]
    assert asked["buttons"][1]["payload"] == '/product_info{"product": "EG-FX06"}'
    assert SlotSet("product_question", "债券基金赎回几天到账") in events
    assert not any(e.get("name") == "product" for e in events)


async def test_the_chosen_product_gets_the_original_question_answered():
    tracker = make_tracker(
        '/product_info{"product": "EG-FX06"}', "product_info", [product_entity("EG-FX06")],
        slots={"language": "zh", "product_question": "债券基金赎回几天到账", "product": "EG-MM01"},
    )
    messages, events = await run_action(ActionAnswerProduct(), tracker)
    answer = texts(messages)
    assert "长青美元收益（EG-FX06）的赎回规则：赎回款 T+5 到账" in answer
    assert answer.endswith(DISCLOSURE["zh"])
    assert SlotSet("product", "EG-FX06") in events and SlotSet("product_question", None) in events


@pytest.mark.parametrize("text", ["Can I see the fees of the Platinum fund?", "余额宝的手续费"])
async def test_a_product_we_do_not_sell_never_falls_back_to_the_earlier_one(text):
    tracker = make_tracker(text, "product_info", slots={"product": "EG-FX06"})
    messages, events = await run_action(ActionAnswerProduct(), tracker)
    answer = texts(messages)
    assert "EG-FX06" not in answer and "0.8%" not in answer
    assert "not one of Evergreen Wealth's" in answer or "不是长青财富的产品" in answer
    assert SlotSet("product", None) in events


async def test_a_named_product_wins_over_the_earlier_one():
    tracker = make_tracker("Can I buy the private equity fund? minimum?", "product_info", slots={"product": "EG-FX06"})
    answer = texts((await run_action(ActionAnswerProduct(), tracker))[0])
    assert "EG-PE05" in answer and "1,000,000 CNY" in answer and "EG-FX06" not in answer


async def test_a_follow_up_without_product_words_continues_the_earlier_product():
    tracker = make_tracker("那它的手续费呢", "product_info", slots={"product": "EG-BD02", "language": "zh"})
    answer = texts((await run_action(ActionAnswerProduct(), tracker))[0])
    assert "长青稳盈债券A（EG-BD02）的费用：认购/申购费 0.6%" in answer


@pytest.mark.parametrize(
    "question,facts",
    [
        ("美元收益是什么类型的产品", ["长青美元收益（EG-FX06）是QDII 债券基金（美元）"]),
        ("货币宝保本吗", ["不保本", "不是存款"]),
        ("is the Growth Equity fund guaranteed?", ["is not guaranteed", "not a deposit"]),
        ("私享股权谁能买", ["C5 及以上", "合格投资者", "金融资产不低于 300 万元", "仅通过理财顾问销售"]),
        ("Steady Bond minimum, fees and when do I get my money after redeeming",
         ["minimum investment in Evergreen Steady Bond A (EG-BD02) is 1,000 CNY", "subscription fee 0.6%", "proceeds T+2"]),
        ("长青平衡配置的类型、风险和锁定期", ["混合型基金", "风险等级为 R3", "90 天锁定期"]),
    ],
)
async def test_every_attribute_and_several_at_once(question, facts):
    answer = texts((await run_action(ActionAnswerProduct(), make_tracker(question, "product_info")))[0])
    for fact in facts:
        assert fact in answer
    assert "1.0215" not in answer  # the type question is not answered with the NAV
    assert answer.endswith(DISCLOSURE["zh" if any("\u4e00" <= c <= "\u9fff" for c in question) else "en"])


async def test_private_equity_profile_says_who_may_buy_it():
    answer = texts((await run_action(ActionAnswerProduct(), make_tracker("tell me about PE05", "product_info")))[0])
    assert "qualified investors only" in answer and "sold only through an advisor" in answer


@pytest.mark.parametrize(
    "question,expected",
    [("有哪些债券基金", {"EG-BD02", "EG-FX06"}), ("list your money market funds", {"EG-MM01"}), ("有什么产品", None)],
)
async def test_a_list_of_one_kind_names_only_that_kind(question, expected):
    answer = texts((await run_action(ActionListProducts(), make_tracker(question, "product_list")))[0])
    listed = {code for code in ("EG-MM01", "EG-BD02", "EG-BL03", "EG-EQ04", "EG-PE05", "EG-FX06") if code in answer}
    assert listed == (expected or {"EG-MM01", "EG-BD02", "EG-BL03", "EG-EQ04", "EG-PE05", "EG-FX06"})


@pytest.mark.parametrize(
    "action,intent,question,fact",
    [
        ("misunderstanding", "nlu_fallback", "私募那个起投多少", "1,000,000 元"),
        ("misunderstanding", "nlu_fallback", "QDII基金赎回要几天到账", "T+5"),
        ("list", "product_list", "私募产品保本吗", "不保本"),
        ("market", "market_update", "稳盈债劵最近表现咋样", "1.0832"),
    ],
)
async def test_a_product_question_classified_elsewhere_is_answered_about_the_product(action, intent, question, fact):
    from actions.conversation import ActionHandleMisunderstanding

    chosen = {"misunderstanding": ActionHandleMisunderstanding(), "list": ActionListProducts(), "market": ActionMarketUpdate()}[action]
    answer = texts((await run_action(chosen, make_tracker(question, intent)))[0])
    assert fact in answer and answer.endswith(DISCLOSURE["zh"])


async def test_a_misunderstood_message_without_a_product_question_is_still_a_misunderstanding():
    from actions.conversation import ActionHandleMisunderstanding

    answer = texts((await run_action(ActionHandleMisunderstanding(), make_tracker("稳盈债券害得我好惨", "nlu_fallback")))[0])
    assert "没有理解" in answer and "EG-BD02" not in answer
