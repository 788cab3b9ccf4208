"""Nothing the customer already said is asked again, and long messages are understood whole
(issue #15, item 7): a callback request with the time (and name, mobile) in it, an appointment
request naming the city (and time), a complaint opening that tells what happened and names the
product; a 1,500-character story ending with a redemption question. Through the contact service,
in Chinese and English: the question is never asked and the stored record has the values; the
long message gets the redemption answer."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Dict, List

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot import knowledge
from bot.bookings.models import Appointment, Callback
from bot.complaints.models import Complaint
from bot.references import pattern
from bot.service_hours import SHANGHAI
from tests.support.clients import Client
from tests.support.database import stored
from tests.support.system import IN_HOURS


pytestmark = pytest.mark.clock(IN_HOURS)  # agents on duty


TOMORROW_3PM = datetime(2026, 12, 1, 15, 0, tzinfo=SHANGHAI)
TOMORROW_10AM = datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)


class Customer:
    """A visitor whose every reply is kept, to check what was (not) asked."""

    def __init__(self, system_):
        self.client = Client(system_.contact_url)
        self.conversation_id = self.client.start()["conversation_id"]
        self.replies: List[str] = []
        self.last: Dict[str, Any] = {}

    def _keep(self, answer):
        self.replies += [reply["text"] for reply in answer["replies"]]
        self.last = answer
        return "\n".join(reply["text"] for reply in answer["replies"])

    def say(self, text: str) -> str:
        return self._keep(self.client.say(text))

    def tap(self, payload: str) -> str:
        return self._keep(self.client.tap(self.last, payload=payload))

    def tap_first(self) -> str:
        buttons = self.last["replies"][-1]["buttons"]
        assert buttons, f"no buttons to tap after {self.replies}"
        return self._keep(self.client.tap(self.last, title=buttons[0]["title"]))

    def never_asked(self, *keys: str, lang: str) -> None:
        for key in keys:
            question = knowledge.message(key, lang)
            assert not any(question in reply for reply in self.replies), f"asked again: {question}"


CALLBACKS = {
    "zh": ["请明天下午3点给我回电话", "张伟", "13912345678"],
    "en": ["Could you call me back tomorrow at 3pm?", "John Smith", "13912345678"],
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_callback_request_with_its_time_is_not_asked_the_time(system, database_url, lang):
    request, name, mobile = CALLBACKS[lang]
    customer = Customer(system)
    assert knowledge.message("ask_name", lang) in customer.say(request)
    customer.say(name)
    summary = customer.say(mobile)
    assert "15:00–15:30" in summary
    reference = re.search(pattern("CB"), customer.tap("/affirm")).group(0)
    customer.never_asked("callback_ask_time", lang=lang)
    callback = stored(database_url, Callback, reference=reference)
    assert callback.window_start == TOMORROW_3PM and callback.name == name and callback.language == lang


EVERYTHING_AT_ONCE = {
    "zh": ("我叫李娜，手机13912345678，请明天下午3点给我回个电话", "李娜"),
    "en": ("Please call me back tomorrow at 3pm, my name is Anna Lee and my mobile is 13912345678", "Anna Lee"),
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_callback_request_with_name_mobile_and_time_goes_straight_to_the_summary(system, database_url, lang):
    request, name = EVERYTHING_AT_ONCE[lang]
    customer = Customer(system)
    summary = customer.say(request)
    assert name in summary and "139****5678" in summary and "15:00–15:30" in summary
    reference = re.search(pattern("CB"), customer.tap("/affirm")).group(0)
    customer.never_asked("ask_name", "ask_mobile", "callback_ask_time", lang=lang)
    callback = stored(database_url, Callback, reference=reference)
    assert (callback.name, callback.mobile, callback.window_start) == (name, "139****5678", TOMORROW_3PM)


NAME_AND_MOBILE = {"zh": ("请给我回个电话", "我叫王芳，手机13912345678", "王芳"),
                   "en": ("Please call me back", "Fang Wang, 13912345678", "Fang Wang")}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_mobile_given_with_the_name_is_not_asked_again(system, database_url, lang):
    request, answer, name = NAME_AND_MOBILE[lang]
    customer = Customer(system)
    customer.say(request)
    assert knowledge.message("callback_ask_time", lang) in customer.say(answer)
    customer.tap_first()
    reference = re.search(pattern("CB"), customer.tap("/affirm")).group(0)
    customer.never_asked("ask_mobile", lang=lang)
    callback = stored(database_url, Callback, reference=reference)
    assert (callback.name, callback.mobile) == (name, "139****5678")


APPOINTMENTS = {
    "zh": ["我想预约上海的理财顾问", "我想预约明天上午10点在北京和理财顾问面谈"],
    "en": ["I'd like to book an appointment with a financial advisor in Shanghai",
           "Can I meet an advisor at the Beijing branch tomorrow at 10am?"],
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_appointment_request_naming_the_city_is_not_asked_the_city(system, database_url, lang):
    city_only, city_and_time = APPOINTMENTS[lang]
    customer = Customer(system)
    assert knowledge.message("appointment_ask_time", lang) in customer.say(city_only)
    customer.tap_first()
    customer.say("Wang Fang")
    customer.say("13912345678")
    reference = re.search(pattern("AP"), customer.tap("/affirm")).group(0)
    customer.never_asked("appointment_ask_city", lang=lang)
    assert stored(database_url, Appointment, reference=reference).city == "Shanghai"

    customer = Customer(system)
    assert knowledge.message("ask_name", lang) in customer.say(city_and_time)
    customer.say("Wang Fang")
    customer.say("13912345678")
    reference = re.search(pattern("AP"), customer.tap("/affirm")).group(0)
    customer.never_asked("appointment_ask_city", "appointment_ask_time", lang=lang)
    appointment = stored(database_url, Appointment, reference=reference)
    assert (appointment.city, appointment.starts_at, appointment.language) == ("Beijing", TOMORROW_10AM, lang)


COMPLAINTS = {
    "zh": ("我要投诉，长青稳盈债券A的赎回款5天了还没到账", "赎回款5天了还没到账", "希望尽快到账", "13812345678"),
    "en": ("I want to complain: my redemption from Evergreen Steady Bond A still hasn't reached my bank after 5 days",
           "still hasn't reached my bank after 5 days", "Pay me now", "13812345678"),
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_complaint_opening_with_the_product_and_what_happened_is_not_asked_them(system, database_url, lang):
    opening, what_happened, outcome, mobile = COMPLAINTS[lang]
    customer = Customer(system)
    customer.say(opening)
    customer.tap_first()  # the suggested category
    customer.say(outcome)
    summary = customer.say(mobile)
    assert what_happened in summary and knowledge.message("button_submit", lang) in str(customer.last)
    reference = re.search(pattern("C"), customer.tap("/affirm")).group(0)
    customer.never_asked("complaint_ask_description", "complaint_ask_product", lang=lang)
    complaint = stored(database_url, Complaint, reference=reference)
    assert what_happened in complaint.description and complaint.product == "EG-BD02" and complaint.language == lang


PRODUCT_FIRST = {
    "zh": ("我要投诉长青稳盈债券A", "赎回的钱过了五天还没到账"),
    "en": ("complaint about Steady Bond A", "my redemption money is five days late"),
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_product_named_when_opening_a_complaint_is_not_asked_after_the_description(system, database_url, lang):
    opening, what_happened = PRODUCT_FIRST[lang]
    customer = Customer(system)
    assert knowledge.message("complaint_ask_description", lang) in customer.say(opening)
    customer.say(what_happened)
    customer.tap_first()  # the suggested category
    customer.say("1")
    customer.say("13812345678")
    reference = re.search(pattern("C"), customer.tap("/affirm")).group(0)
    customer.never_asked("complaint_ask_product", lang=lang)
    assert stored(database_url, Complaint, reference=reference).product == "EG-BD02"


# A customer's whole story first, the question at the end (about 1,500 characters each): the
# story talks about buying, the question is about redeeming.
LONG_STORIES = {
    "zh": (
    '你好，我想先把情况说清楚，可能有点长，请耐心看完。'
    '我是你们长青财富的老客户了，2021年就在你们上海的网点开了户，当时是一位姓陈的理财经理接待的我，人很热情，给我做了风险测评，结果是C3。'
    '那时候我手上有一笔闲钱，大概二十万左右，本来打算存定期，陈经理说定期利息太低，建议我买一部分长青货币宝，再买一部分长青稳盈债券A，说债券基金比较稳，适合我这种不想冒太大风险的人。'
    '我听了觉得有道理，就先在网点买了十万的稳盈债券A，剩下的放在货币宝里，平时买菜交水电费都从货币宝里直接转，确实挺方便的。'
    '后来你们推出了手机APP，我就下载了，绑定了我的工商银行卡，之后每个月发工资我都会再追加买一点稳盈债券A，每次两三千块，大概坚持了两年多。'
    '这期间我也看过几次你们发的每日市场简报，说债券市场有波动，但总体来说我的收益还算可以，净值一直慢慢往上走，我也没怎么操心。'
    '去年年底你们的客服还打电话给我，问我要不要了解一下长青平衡配置混合，说收益可能更高，但是我觉得风险太大，就没有买，只是又加了一点稳盈债券A。'
    '今年上半年我母亲生病住院，我请了好几个月的假在医院照顾她，家里的开销一下子大了很多，医药费、护工费加起来花了不少钱。'
    '我先把货币宝里的钱都取出来用了，货币宝取钱很快，当天就到了我的银行卡，这一点我非常满意，也要感谢你们。'
    '但是现在母亲还要继续做康复治疗，后面每个月还要几千块的费用，我手里的现金已经不太够了，家里人也商量了好几次。'
    '我爱人的意思是先别动债券基金，等行情好一点再说，但我觉得家里人的健康更重要，钱放着也只是数字，不如先拿出来应急。'
    '我之前在网上看到有人说基金持有不满一定时间卖出会收手续费，我也不太清楚稳盈债券A是不是这样，我最早一笔是几年前买的，最近一笔是上个月买的。'
    '另外我的APP前几天刚更新过，界面和以前不太一样了，我找了半天也没找到以前那个按钮，问了我儿子他也说不清楚。'
    '我儿子在外地工作，他说可以先借给我一些钱，但我不想给孩子添麻烦，他自己刚买了房子，每个月还要还房贷，压力也不小。'
    '我自己退休金不算高，每个月四千多块，平时省着点花是够的，但是现在加上康复的费用就明显不够了，所以只能想别的办法。'
    '我算了一下，如果把债券基金的钱拿出来，应该够母亲后面大半年的治疗费用，到时候再看情况。'
    '我平时不太会用手机，怕自己点错了又买进去了，所以不敢乱操作，想先问清楚再说。'
    '说实话，这几年我对你们的服务总体是满意的，网点的工作人员态度都很好，每次去办业务都不用等太久，有问题打电话也能找到人。'
    '我记得有一次我的银行卡丢了，需要换绑新卡，也是你们的客服一步一步教我怎么在APP里操作，还提醒我要先挂失旧卡，我当时很感动。'
    '我也跟身边的几个老同事推荐过你们，他们有的买了货币宝，有的买了债券基金，大家都说挺好的，没有遇到什么问题。'
    '我每个月都会收到你们的对账单，上面写着我持有的份额和最新净值，我都会认真看一遍，然后放在抽屉里保存起来。'
    '最近一次的对账单显示我持有的稳盈债券A市值大概有十五万多一点，比我投进去的本金多了一些，这让我心里踏实了不少。'
    '我也知道理财产品不是存款，不保证收益，净值会有涨有跌，这个道理陈经理当初也跟我讲过好几次，我都明白的。'
    '不过陈经理去年调到别的城市去了，新来的经理我还没有见过面，只在电话里聊过一次，他说有事可以直接在APP里找在线客服。'
    '上周我本来想去网点当面问的，但是母亲那边离不开人，我实在抽不出时间，只好在这里给你们留言，希望你们能理解。'
    '所以我想问一下：我现在想把长青稳盈债券A全部卖掉拿回现金，请问在APP里具体怎么赎回？'
    '赎回的钱几天能到我的银行卡？'
    ),
    "en": (
    "Hello, I'm sorry this is long, but I want to explain my situation properly before I ask anything. "
    'I have been a customer of Evergreen Wealth since 2021, when I opened an account at your Shanghai branch with an advisor called Mr Chen, who was very patient with me and walked me through the risk questionnaire; I came out as C3. '
    'At the time I had about two hundred thousand yuan sitting in my current account, and I was going to put it into a fixed deposit, but Mr Chen suggested I keep some in Evergreen Cash Plus and buy Evergreen Steady Bond A with the rest, since a bond fund would be steadier than stocks. '
    'I bought one hundred thousand of Steady Bond A at the branch, and after your app came out I linked my ICBC card and topped it up with a few thousand every month from my salary, for more than two years. '
    'This spring my mother was taken into hospital, and I spent months looking after her; the medical bills and the carer cost far more than we expected. '
    'I already took everything out of Cash Plus, which arrived in my bank account the same day, so thank you for that. '
    'Now she needs rehabilitation every month and our savings are running low, so after a lot of family discussion we decided that her health matters more than waiting for the market. '
    "Your app was updated last week and I cannot find the button I used before, and I'm worried I will tap the wrong thing and buy more by mistake. "
    'So my question is: I want to sell all of my Evergreen Steady Bond A and get the cash back. '
    'How do I redeem it in the app, and how many days until the money reaches my bank card?'
    ),
}
REDEMPTION_ANSWER = {"zh": "在 App 中进入「持仓 → 赎回」", "en": "In the app go to 持仓 Holdings → 赎回 Redeem"}
PURCHASE_ANSWER = {"zh": "点击「买入」", "en": "tap 买入 Buy"}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_long_story_ending_with_a_redemption_question_gets_the_redemption_answer(system, database_url, lang):
    story = LONG_STORIES[lang]
    assert 1400 <= len(story) <= 2000
    customer = Customer(system)
    answer = customer.say(story)
    assert REDEMPTION_ANSWER[lang] in answer and PURCHASE_ANSWER[lang] not in answer
    assert "EG-BD02" in answer  # the product of the question, with its own redemption terms
    assert customer.client.history()[0]["text"] == story  # stored whole
    engine = create_engine(database_url)
    with Session(engine) as session:  # no alarm raised either (the story once read as a fraud report)
        assert session.execute(select(Complaint).where(Complaint.conversation_id == customer.conversation_id)).first() is None
    engine.dispose()
