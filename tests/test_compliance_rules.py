"""The compliance rules (bot/compliance.py) on what agents and the assistant say, each in both
languages, with the look-alikes that must pass: a denial, a warning never to share a code, a
product whose name holds a rule's word, a product above the level that the agent advises against."""

from __future__ import annotations

import shutil
from datetime import date

import pytest
import yaml

from bot import compliance, knowledge

TODAY = date(2026, 11, 30)
C3 = {"verified": True, "risk_level": "C3", "risk_expires": "2027-06-30"}
DISCLOSURE = {"zh": knowledge.risk_disclosure("zh"), "en": knowledge.risk_disclosure("en")}


def rules(text: str, language: str = "zh", profile=None):
    return [(f.rule, f.span) for f in compliance.check(text, language, profile, TODAY)]


@pytest.mark.parametrize("text, span", [
    ("请提供您的验证码", "请提供您的验证码"),
    ("为了核实身份，麻烦您告诉我短信验证码", "麻烦您告诉我短信验证码"),
    ("您的交易密码是多少？", "交易密码是多少"),
    ("请把银行卡号发给我", "把银行卡号发"),
    ("方便报一下卡背面的CVV吗", "方便报一下卡背面的CVV"),
    ("您不需要提供密码，只需提供卡号", "只需提供卡号"),  # the denial is in another clause
    ("請提供您的驗證碼", "請提供您的驗證碼"),  # traditional characters
    ("Please send me the verification code", "send me the verification code"),
    ("Could you tell me your password?", "tell me your password"),
    ("What's your card number?", "What's your card number"),
    ("Can I have your CVV?", "Can I have your CVV"),
    ("Don't worry, just reply with your OTP", "reply with your OTP"),
])
def test_asking_for_a_credential_is_found(text, span):
    assert rules(text) == [("credential_request", span)]
    assert compliance.asks_for_credentials(text)


@pytest.mark.parametrize("text", [
    "请勿向任何人透露验证码",
    "请不要把密码告诉任何人，包括我们的工作人员",
    "我们绝不会通过邮件、电话或短信索要您的密码或验证码。",
    "我们已经发送验证码到您的手机，请在 App 中输入",
    "如果您已把验证码告诉了别人，请马上告诉我",
    "请提供卡号后四位",
    "Never share your verification code with anyone, including us.",
    "We will never ask for your password or a verification code by email, phone or text.",
    "Do not tell anyone your password",
    "I will send you a code now",
    "Please give us your complaint reference code",
])
def test_warning_never_to_share_one_passes(text):
    assert rules(text) == []
    assert not compliance.asks_for_credentials(text)


@pytest.mark.parametrize("text, span", [
    ("您放心，这款产品保本", "保本"),
    ("这款产品稳赚不赔", "稳赚不赔"),
    ("这个产品没有风险", "没有风险"),
    ("完全是无风险的投资", "无风险"),
    ("我们保证收益 5%", "保证收益"),
    ("不过这款产品保本", "保本"),  # 「不过」 denies nothing
    ("This fund offers guaranteed returns", "guaranteed returns"),
    ("Don't worry, it's guaranteed", "it's guaranteed"),
    ("It is risk-free", "risk-free"),
    ("There is no risk at all", "no risk"),
    ("You can't lose with this one", "can't lose"),
    ("Your money is 100% safe", "100% safe"),
])
def test_promising_returns_or_safety_is_found(text, span):
    assert rules(text) == [("promise_of_returns", span)]
    assert compliance.promises_returns(text)


@pytest.mark.parametrize("text", [
    "这款产品不保本",
    "我们不承诺保本，也不保证收益",
    "本产品不保证收益",
    "没有产品是无风险的",
    "您还没有风险测评结果",
    "Returns are not guaranteed",
    "not guaranteed",
    "No product is risk-free.",
    "There is no guarantee of returns",
    "We can't guarantee any return",
    "We guarantee a reply within 24 hours",
    DISCLOSURE["zh"],
    DISCLOSURE["en"],  # "past performance does not guarantee future results"
])
def test_a_denial_is_no_promise(text):
    assert rules(text) == []
    assert not compliance.promises_returns(text)


def test_a_product_whose_name_holds_a_promise_word_is_no_promise(tmp_path, monkeypatch):
    shutil.copytree(knowledge.KNOWLEDGE_DIR, tmp_path / "knowledge")
    path = tmp_path / "knowledge" / "products.yml"
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    content["products"][0]["name"] = {"zh": "长青保本增利", "en": "Evergreen Guaranteed Income"}
    content["products"][0]["aliases"] += ["长青保本增利", "保本增利", "Evergreen Guaranteed Income", "Guaranteed Income"]
    path.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(knowledge, "KNOWLEDGE_DIR", tmp_path / "knowledge")
    for text, language in (("保本增利的起购金额是 100 元。", "zh"), ("Guaranteed Income starts at 100 CNY. ", "en")):
        assert rules(text + DISCLOSURE[language], language) == []
    assert rules("保本增利是保本的。" + DISCLOSURE["zh"]) == [("promise_of_returns", "保本")]


@pytest.mark.parametrize("language, text, span", [
    ("zh", "货币宝的起购金额是 100 元。", "货币宝"),
    ("zh", "長青貨幣寶隨時可以贖回", "長青貨幣寶"),
    ("en", "Cash Plus starts at 100 CNY.", "Cash Plus"),
    ("en", "EG-BD02 has a 0.6% subscription fee.", "EG-BD02"),
])
def test_a_product_named_without_the_disclosure_gets_it_in_the_customers_language(language, text, span):
    [finding] = compliance.check(text, language)
    assert (finding.rule, finding.span, finding.disclosure) == ("missing_disclosure", span, DISCLOSURE[language])
    assert compliance.check(f"{text}\n{finding.disclosure}", language) == []


def test_the_disclosure_must_be_in_the_customers_language():
    assert [f.rule for f in compliance.check(f"Cash Plus starts at 100 CNY. {DISCLOSURE['zh']}", "en")] == ["missing_disclosure"]
    assert compliance.check("您可以考虑债券基金或混合型基金", "zh") == []  # a kind of several products names none


@pytest.mark.parametrize("language, text, code", [
    ("zh", "我推荐您买成长精选，收益更高。", "EG-EQ04"),
    ("zh", "成长精选收益不错，建议您尽快买入。", "EG-EQ04"),
    ("zh", "私享股权机会难得。", "EG-PE05"),
    ("en", "I recommend Growth Equity Select for you.", "EG-EQ04"),
    ("en", "Private Equity Fund I is a great fit for you, don't miss it.", "EG-PE05"),
])
def test_urging_a_product_above_the_customers_level_is_found(language, text, code):
    text += DISCLOSURE[language]
    [finding] = compliance.check(text, language, C3, TODAY)
    assert (finding.rule, finding.product, finding.customer_level) == ("above_risk_level", code, "C3")
    assert finding.product_risk == ("R4" if code == "EG-EQ04" else "R5")


@pytest.mark.parametrize("language, text", [
    ("zh", "我不推荐成长精选。"),
    ("zh", "成长精选不适合您，推荐您看看平衡配置。"),  # R3: within C3
    ("zh", "成长精选超出您的风险等级，不能购买。"),
    ("zh", "成长精选是股票型基金，风险等级 R4。"),  # informing is not urging
    ("en", "I would not recommend Growth Equity Select for you."),
    ("en", "Growth Equity Select is above your level; I suggest Balanced Allocation."),
    ("en", "Growth Equity Select is an equity fund rated R4."),
])
def test_advising_against_or_describing_such_a_product_passes(language, text):
    assert compliance.check(text + DISCLOSURE[language], language, C3, TODAY) == []


@pytest.mark.parametrize("profile", [
    None,
    {"verified": False, "risk_level": None, "risk_expires": None},
    {"verified": True, "risk_level": "", "risk_expires": ""},  # not assessed
    {"verified": True, "risk_level": "C3", "risk_expires": "2026-05-31"},  # expired
    {"verified": True, "risk_level": "C5", "risk_expires": "2027-09-30"},  # high enough
])
def test_the_level_rule_needs_a_verified_valid_level_below_the_product(profile):
    text = "我推荐您买成长精选。" + DISCLOSURE["zh"]
    assert compliance.check(text, "zh", profile, TODAY) == []


def test_findings_come_in_text_order_with_spans_on_the_text_as_written():
    text = "  请提供验证码，货币宝保本！"
    findings = compliance.check(text, "zh")
    assert [f.rule for f in findings] == ["credential_request", "missing_disclosure", "promise_of_returns"]
    assert all(text[f.start:f.end] == f.span for f in findings)
    assert findings[1].as_dict() == {"rule": "missing_disclosure", "start": 9, "end": 12, "span": "货币宝",
                                     "product": "EG-MM01", "disclosure": DISCLOSURE["zh"]}
