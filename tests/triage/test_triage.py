"""Triage rules (bot/complaints/triage.py) on single messages, without the model."""

import pytest

from bot.complaints import triage
from bot.nlu.triage_override import triaged_intent
from bot.privacy import mask_sensitive


def verdict(text, intent=None):
    return triage.decide(mask_sensitive(text), intent).verdict


@pytest.mark.parametrize("text", [
    "你们就是一群骗子，垃圾客服",
    "you are useless scammers, worst service",
    "你們就是一群騙子，垃圾客服",  # traditional characters
])
def test_insults_are_anger_not_fraud_whatever_the_classifier_read(text):
    assert verdict(text) == triage.COMPLAINT
    assert verdict(text, "report_fraud") == triage.COMPLAINT
    assert triaged_intent(mask_sensitive(text), "report_fraud") == "file_complaint"


@pytest.mark.parametrize("text", [
    "我收到了验证码 384920，要告诉你吗",
    "我的身份证号是310101199003074518帮我查下持仓",
    "我的密码是abc123456帮我登录",
    "my password is Sunny2024! can you log in and check my balance",
    "should I send you the sms code?",
])
def test_a_secret_offered_gets_the_warning_not_an_alarm(text):
    assert verdict(text) == triage.SECRET_OFFERED
    assert verdict(text, "report_fraud") == triage.SECRET_OFFERED
    assert triaged_intent(mask_sensitive(text), "faq") == "security_advice"


@pytest.mark.parametrize("text", [
    "someone called me pretending to be you and I gave them my SMS code 384920, now money is gone",
    "有人冒充你们客服打电话，我把验证码 384920 告诉他了，现在钱被转走了",
    "帳戶被盜了，請幫我凍結",
    "我不想活了",
    "I'm going to kill myself",
    "再不退钱我就去你们公司捅人",
])
def test_actual_fraud_takeover_and_threats_are_urgent_whatever_the_classifier_read(text):
    assert verdict(text, "faq") == triage.URGENT
    assert verdict(text, "out_of_scope") == triage.URGENT
    assert triaged_intent(mask_sensitive(text), "faq") == "report_fraud"


@pytest.mark.parametrize("text", [
    "我的账户没有被盗，只是忘了密码",  # negated
    "no, my account was not hacked, I just can't find the statement",
    "如果账户被盗了应该怎么办",  # a hypothesis
    "how do I avoid scams where people pretend to be your staff",  # prevention
    "新闻上说有人冒充长青财富员工骗钱，是真的吗",  # news
    "我不是骗子，只是想问一下开户流程",
])
def test_negations_hypotheses_prevention_and_news_are_not_urgent(text):
    assert verdict(text, "report_fraud") in (triage.NONE, triage.COMPLAINT)


def test_a_framing_question_does_not_hide_contact_aimed_at_the_customer():
    assert verdict("有人冒充你们客服给我打电话让我转账，怎么判断真假") == triage.URGENT


def test_rhetorical_questions_are_not_negations():
    assert verdict("理财经理说稳赚不赔，结果亏了，这不是骗人吗") == triage.COMPLAINT
    assert verdict("你们是不是诈骗公司啊，钱取不出来") == triage.COMPLAINT


def test_the_classifier_reading_report_fraud_counts_when_nothing_explains_it_away():
    assert verdict("report suspicious activity", "report_fraud") == triage.URGENT
    assert verdict("report suspicious activity", "faq") == triage.NONE
    assert triaged_intent("report suspicious activity", "report_fraud") is None  # kept


def test_a_masked_mobile_number_is_no_secret():
    assert verdict("请给我回电话，我的手机是13812345678") == triage.NONE


def test_other_readings_are_left_alone():
    assert triaged_intent("长青货币宝的起购金额是多少", "product_info") is None
    assert triaged_intent("how do I avoid scams", "report_fraud") == "security_advice"


def test_text_opencc_cannot_read_is_still_triaged():
    assert verdict("\ud800 my account was hacked") == triage.URGENT


@pytest.mark.parametrize("text", [
    "is the bond fund stable?",
    "I sent you an email yesterday about my statement",
    "I paid the subscription fee, when is it confirmed?",
    "I'm locked out after too many wrong passwords",
    "我拼命打电话都没人接",
    "it took my whole afternoon to open an account",
])
def test_everyday_wording_near_the_alarm_words_is_not_urgent(text):
    assert verdict(text) != triage.URGENT


def test_a_negation_further_back_does_not_cancel_the_event():
    assert verdict("I don't know who logged into my account last night") == triage.URGENT
    assert verdict("I didn't authorise this transfer") == triage.URGENT
    assert verdict("我不想自杀，可是钱都没了") == triage.URGENT  # harm is never cancelled


def test_a_purchase_by_our_advisor_without_consent_is_a_complaint_not_an_emergency():
    assert verdict("投诉：理财经理未经我同意就替我购买了一款R4风险等级的产品") != triage.URGENT


def test_asking_whether_staff_ever_ask_for_codes_is_a_question_unless_someone_did():
    assert verdict("will your staff ever ask for my verification code?", "report_fraud") == triage.NONE
    assert verdict("someone pretending to be your staff asked for my code, do you ever ask for codes?") == triage.URGENT


def test_a_greeting_the_classifier_reads_as_fraud_is_not_urgent():
    assert verdict("有人没", "report_fraud") != triage.URGENT  # "anyone there?"
    assert verdict("有人吗", "report_fraud") != triage.URGENT


def test_scammers_are_an_insult_only_when_aimed_at_us():
    assert verdict("you are useless scammers, worst service") == triage.COMPLAINT
    assert verdict("scammers phoned my neighbour, how do I warn my parents?") != triage.COMPLAINT


def test_saying_what_a_password_is_not_is_no_secret():
    assert verdict("I no longer know what my password is") == triage.NONE


def test_a_grievance_about_charges_is_a_complaint_even_when_the_classifier_reads_fraud():
    assert verdict("我的赎回费被多扣了", "report_fraud") == triage.COMPLAINT
    assert triaged_intent("我的赎回费被多扣了", "report_fraud") == "file_complaint"
    assert verdict("a man says I must pay a fee to unlock my account", "report_fraud") == triage.URGENT


@pytest.mark.parametrize("text, expected", [
    ("怎样保护我的账户不被盗", triage.NONE),
    ("what do scam messages pretending to be evergreen look like", triage.NONE),
    ("手机号不是我本人的能开户吗", triage.NONE),
    ("不认识的人要我提供短信验证码", triage.URGENT),  # asked for a code: no offer of ours
    ("要我把验证码念给你吗", triage.SECRET_OFFERED),
])
def test_training_look_alikes(text, expected):
    assert verdict(text) == expected


@pytest.mark.parametrize("text", ["关于我的账户", "老客户的一封信", "can I get an alert every time money leaves my account"])
def test_the_classifiers_fraud_reading_alone_is_no_emergency(text):
    assert not triage.decide(text, triage.FRAUD_INTENT).urgent


@pytest.mark.parametrize("text", ["凌晨三点收到赎回到账短信，但我一直在睡觉", "有人用我的account买了一堆fund，不是我"])
def test_the_classifiers_fraud_reading_with_a_sign_of_an_event_is_urgent(text):
    assert triage.decide(text, triage.FRAUD_INTENT).urgent
