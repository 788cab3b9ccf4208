"""FAQ and branch answers carry the spec's facts in the customer's language."""

import pytest
from rasa_sdk.events import SlotSet

from actions.branches import ActionFindBranch
from actions.faq import ActionAnswerFaq
from tests.support.trackers import DISCLOSURE, city_entity, make_tracker, product_entity, run_action, texts

# topic → (Chinese question, facts, English question, facts), from the spec's FAQ table.
FAQ_FACTS = {
    "open_account": ("怎么开户", ["10 分钟", "居民身份证", "借记卡", "手机号", "人脸识别", "18 周岁", "风险测评", "网点"],
                     "how do i open an account", ["10 minutes", "resident ID card", "debit card", "mobile number", "face verification", "18", "risk questionnaire", "branches"]),
    "risk_assessment": ("风险测评怎么做", ["我的 → 风险测评", "15 道题", "5 分钟", "C1", "C5", "12 个月", "过期"],
                        "how to do the risk questionnaire", ["Me → Risk assessment", "15 questions", "5 minutes", "C1", "C5", "12 months", "expired"]),
    "purchase": ("怎么买", ["买入", "交易密码", "扣款", "T+1", "15:00"],
                 "how do I buy", ["Buy", "trading password", "debited", "T+1", "15:00"]),
    "redemption": ("怎么赎回", ["持仓 → 赎回", "10,000 元", "T+1", "T+2", "T+3", "T+5", "不可赎回", "银行卡"],
                   "how to redeem", ["Holdings", "10,000 CNY", "T+1", "T+2", "T+3", "T+5", "cannot be redeemed", "linked card"]),
    "fees": ("你们收哪些费用", ["0–1.5%", "管理费", "净值", "赎回费", "不收取账户费用", "隐藏收费", "产品文件"],
             "what fees do you charge", ["0–1.5%", "management fee", "NAV", "redemption fees", "no account fees", "no hidden charges", "product documents"]),
    "trading_hours": ("几点前下单算当天", ["09:30", "15:00", "下一个交易日", "7×24"],
                      "what's the cut-off time", ["09:30", "15:00", "next trading day", "7×24"]),
    "change_bank_card": ("怎么换银行卡", ["我的 → 银行卡 → 更换", "本人名下", "短信验证", "资金在途", "400-820-8888", "网点"],
                         "change my bank card", ["Me → Bank cards → Change", "own name", "SMS verification", "in transit", "hotline", "branch"]),
    "reset_password": ("忘记密码了", ["忘记密码", "短信验证码", "安全中心", "人脸识别", "5 次", "24 小时", "绝不会向您索要密码"],
                       "forgot my password", ["Forgot password", "SMS code", "Security centre", "face verification", "5 wrong tries", "24 hours", "never ask for your passwords"]),
    "statement": ("对账单在哪看", ["第 5 个工作日", "对账单", "PDF", "持仓证明", "1 个工作日"],
                  "where's my statement", ["5th working day", "PDF", "holdings certificate", "1 working day"]),
    "contact": ("客服电话多少", ["400-820-8888", "09:00–21:00", "service@evergreen-wealth.example", "24 小时", "7×24"],
                "how can I contact you", ["400-820-8888", "09:00–21:00", "service@evergreen-wealth.example", "24 hours", "7×24"]),
    "data_privacy": ("你们会泄露我的信息吗", ["个人信息保护法", "加密", "反洗钱", "绝不出售", "托管银行", "监管机构", "查阅、更正或删除"],
                     "do you sell my data", ["Personal Information Protection Law", "encrypted", "KYC/AML", "never sold", "custodian bank", "regulators", "access, correct or delete"]),
}


@pytest.mark.parametrize("topic", sorted(FAQ_FACTS))
@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_every_faq_topic_has_the_spec_facts(topic, lang):
    zh_q, zh_facts, en_q, en_facts = FAQ_FACTS[topic]
    question, facts = (zh_q, zh_facts) if lang == "zh" else (en_q, en_facts)
    answer = texts((await run_action(ActionAnswerFaq(), make_tracker(question, "faq", faq=f"faq/{topic}")))[0])
    missing = [fact for fact in facts if fact not in answer]
    assert not missing, f"{topic}/{lang} answer lacks {missing}: {answer}"
    assert answer.endswith(DISCLOSURE[lang]) == (topic in ("purchase", "redemption", "fees"))


async def test_faq_with_a_product_adds_that_products_terms():
    tracker = make_tracker("我想redeem货币宝", "faq", [product_entity("EG-MM01")], faq="faq/redemption")
    answer = texts((await run_action(ActionAnswerFaq(), tracker))[0])
    assert "持仓 → 赎回" in answer
    assert "长青货币宝（EG-MM01）的赎回规则" in answer
    assert answer.endswith(DISCLOSURE["zh"])


async def test_faq_topic_filed_by_a_stock_response_selector_is_answered_too():
    tracker = make_tracker("what fees do you charge", "faq")
    tracker.latest_message["response_selector"] = {"default": {"response": {"intent_response_key": "faq/fees"}}}
    answer = texts((await run_action(ActionAnswerFaq(), tracker))[0])
    assert "management fee" in answer and answer.endswith(DISCLOSURE["en"])


async def test_a_faq_about_a_kind_that_fits_several_products_asks_which():
    messages, events = await run_action(ActionAnswerFaq(), make_tracker("债基赎回要几天", "faq", faq="faq/redemption"))
    payloads = [b["payload"] for m in messages for b in m.get("buttons") or []]
    assert payloads == ['/product_info{"product": "EG-BD02"}', '/product_info{"product": "EG-FX06"}']
    assert SlotSet("product_question", "债基赎回要几天") in events


@pytest.mark.parametrize(
    "city,lang,question,facts",
    [
        ("Shanghai", "zh", "上海网点在哪", ["世纪大道 888 号", "021-6088-8888", "09:00–17:00"]),
        ("Beijing", "en", "beijing branch address", ["88 Jianguo Road", "010-6588-8888", "Monday–Friday 09:00–17:00"]),
        ("Shenzhen", "zh", "深圳有网点吗", ["深南大道 6008 号", "0755-8388-8888"]),
        ("Guangzhou", "en", "where are you in Guangzhou", ["16 Huaxia Road", "020-3888-8888"]),
        ("Hangzhou", "zh", "杭州网点电话", ["钱江路 58 号", "0571-8788-8888"]),
    ],
)
async def test_branch_in_a_known_city(city, lang, question, facts):
    answer = texts((await run_action(ActionFindBranch(), make_tracker(question, "branch_locator", [city_entity(city)])))[0])
    for fact in facts:
        assert fact in answer
    assert answer.count("\n") == 0  # only that branch


async def test_unknown_city_lists_every_branch():
    answer = texts((await run_action(ActionFindBranch(), make_tracker("成都有网点吗", "branch_locator")))[0])
    assert answer.startswith("我们在以下城市设有网点")
    for phone in ("021-6088-8888", "010-6588-8888", "0755-8388-8888", "020-3888-8888", "0571-8788-8888"):
        assert phone in answer
