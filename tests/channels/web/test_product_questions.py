"""Products named the way customers write them, end to end through the contact service (issue #15).

Every question here is worded as customers word it — types, half names, typos, homophones,
traditional characters — and none is in the training data.
"""

import pytest

from tests.support.trackers import DISCLOSURE


def answer_text(answer):
    return "\n".join(reply["text"] for reply in answer["replies"] if reply.get("text"))


def disclosed(answer, lang):
    return any(reply.get("disclosure") == DISCLOSURE[lang] for reply in answer["replies"])


@pytest.mark.parametrize(
    "lang,question,facts",
    [
        ("zh", "货币基金能马上取出来吗", ["长青货币宝", "T+0"]),
        ("zh", "股票型的净值现在多少", ["长青成长精选股票", "0.9675"]),
        ("zh", "私募那个起投多少钱", ["长青私享股权一期", "1,000,000 元"]),
        ("zh", "货币包的收益率是多少", ["长青货币宝", "1.85%", "2026-11-27"]),
        ("zh", "長青貨幣寶贖回要多久", ["长青货币宝", "10,000 元以内实时到账"]),
        ("zh", "美元收益是什么类型的产品", ["QDII 债券基金（美元）"]),
        ("zh", "长青平衡配置保本吗", ["不保本", "不是存款"]),
        ("en", "What's the minimum for the USD fund?", ["Evergreen USD Income", "1,000 USD"]),
        ("en", "Evergreen Balanced lock-up period?", ["Evergreen Balanced Allocation", "90-day lock-up"]),
        ("en", "who is allowed to invest in the private equity fund", ["qualified investors only", "sold only through an advisor"]),
        ("en", "Stedy Bond fees and how long until I get my money back", ["0.6%", "T+2"]),
    ],
)
def test_products_by_type_half_name_typo_and_traditional_characters(client, lang, question, facts):
    client.start()
    answer = client.say(question)
    text = answer_text(answer)
    for fact in facts:
        assert fact in text, (question, text)
    assert disclosed(answer, lang)


def test_a_bond_fund_question_is_asked_back_and_answered_about_the_chosen_fund(client):
    client.start()
    asked = client.say("What are the fees of the bond fund?")
    buttons = [b["title"] for reply in asked["replies"] for b in reply.get("buttons") or []]
    assert buttons == ["Evergreen Steady Bond A", "Evergreen USD Income"]
    answer = client.tap(asked, title="Evergreen USD Income")
    text = answer_text(answer)
    assert "Evergreen USD Income (EG-FX06) fees: subscription fee 0.8%, management fee 0.9% a year" in text
    assert "EG-BD02" not in text and disclosed(answer, "en")


def test_the_chinese_choice_keeps_chinese(client):
    client.start()
    asked = client.say("债券基金赎回几天到账")
    answer = client.tap(asked, title="长青稳盈债券A")
    text = answer_text(answer)
    assert "长青稳盈债券A（EG-BD02）的赎回规则：赎回款 T+2 到账" in text
    assert disclosed(answer, "zh")


def test_a_new_product_never_gets_the_previous_products_figures(client):
    client.start()
    assert "1,000 USD" in answer_text(client.say("USD Income minimum investment?"))
    answer = answer_text(client.say("And the minimum of the private equity fund?"))
    assert "1,000,000 CNY" in answer and "EG-FX06" not in answer
    unknown = answer_text(client.say("what's the minimum for the Platinum fund?"))
    assert "not one of Evergreen Wealth's" in unknown and "1,000,000" not in unknown and "1,000 USD" not in unknown


@pytest.mark.parametrize(
    "lang,first,then,facts",
    [
        ("en", "What does the USD Income fund charge?", "Can I buy the private equity fund?", ["Evergreen Private Equity Fund I", "qualified investors", "advisor"]),
        ("zh", "美元收益的费用是多少", "私募那个我能买吗", ["长青私享股权一期", "合格投资者", "理财顾问"]),
    ],
)
def test_a_purchase_question_about_another_product_is_about_that_product(client, lang, first, then, facts):
    client.start()
    assert "0.8%" in answer_text(client.say(first))
    answer = client.say(then)
    text = answer_text(answer)
    for fact in facts:
        assert fact in text, text
    assert "EG-FX06" not in text and "0.8%" not in text and disclosed(answer, lang)


def test_a_follow_up_without_a_product_continues_the_product(client):
    client.start()
    client.say("稳盈债券A最新净值多少")
    answer = answer_text(client.say("那它的赎回呢"))
    assert "长青稳盈债券A" in answer and "T+2" in answer
