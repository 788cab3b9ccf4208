"""Complaints as customers file them: through the contact service, Rasa's form and the action
server on loopback, against SQLite and PostgreSQL; and the action server failing mid-complaint."""

from __future__ import annotations

import json
import secrets
import time
import urllib.request

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from bot.complaints.models import Complaint
from bot.core.staff import demo_token
from bot.working_calendar import complaint_deadlines
from tests.support.clients import REFERENCE, buttons, Client, texts
from tests.support.system import identity_token


def complaint_row(database, reference: str) -> Complaint:
    with Session(database) as session:
        return session.execute(select(Complaint).where(Complaint.reference == reference)).scalar_one()


def count_complaints(database, description_fragment: str) -> int:
    with Session(database) as session:
        query = select(func.count()).select_from(Complaint).where(Complaint.description.contains(description_fragment))
        return session.execute(query).scalar_one()


def staff_get(base_url: str, path: str):
    request = urllib.request.Request(base_url + path, headers={"Authorization": f"Bearer {demo_token()}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def assert_number_only_sealed(database, number: str) -> None:
    """The number is nowhere in the database in clear."""
    with database.connect() as connection:
        for table in ("messages", "complaints", "personal_numbers"):
            rows = connection.execute(select(text("*")).select_from(text(table))).all()
            assert number not in repr(rows), table


def test_a_complaint_in_chinese_gets_a_reference_and_its_deadlines(client, database):
    client.start()
    assert "请简单描述一下发生了什么" in texts(client.say("我要投诉"))
    answer = client.say("上周赎回稳盈债券被多扣了0.5%的赎回费，之前没人告诉过我")
    assert "「费用及收费标准」有关，对吗" in texts(answer)
    assert buttons(answer)[0] == "费用及收费标准"  # the suggestion first
    assert "您希望我们怎样处理" in texts(client.say("对"))
    assert "我们该如何联系您" in texts(client.say("退还赎回费"))
    summary = texts(client.say("我的手机 13812345678"))
    assert "· 类别：费用及收费标准" in summary and "· 产品：长青稳盈债券A" in summary
    assert "138****5678" in summary and "13812345678" not in summary
    filed = texts(client.say("确认提交"))
    reference = REFERENCE.search(filed).group(0)

    row = complaint_row(database, reference)
    assert (row.category, row.product, row.state, row.urgent) == ("fees", "EG-BD02", "received", False)
    assert row.contact == "138****5678" and row.channel == "web" and row.language == "zh"
    received = row.received_at  # aware, Asia/Shanghai
    assert reference == received.strftime("C%Y%m%d-") + reference[-6:]
    due = complaint_deadlines(received, "general")
    assert f"{due.resolution.month}月{due.resolution.day}日" in filed and "（5 个工作日）" in filed
    assert f"{due.first_reply:%H:%M}" in filed

    assert_number_only_sealed(database, "13812345678")
    seen_by_staff = staff_get(client.base_url, f"/api/v1/staff/complaints/{reference}")["complaint"]
    assert (seen_by_staff["contact"], seen_by_staff["contact_number"]) == ("138****5678", "13812345678")
    status = texts(client.say(f"{reference} 进度怎么样"))
    assert f"投诉 {reference}（费用及收费标准）：已受理" in status
    assert f"{due.resolution.month}月{due.resolution.day}日" in status


def test_an_english_complaint_with_a_correction(client, database):
    client.start()
    client.say("I'd like to file a complaint")
    client.say("Your app crashed three times while I was buying a fund and I missed the 15:00 cut-off")
    assert "Which product" in texts(client.say("Fees and charges"))  # the wrong category, corrected below
    assert "couldn't find that product" in texts(client.say("the one with the blue logo"))
    client.say("No specific product")
    client.say("an explanation and a working app")
    answer = client.say("Answer me in this chat")
    assert "· Category: Fees and charges" in texts(answer)
    assert "Change the category" in buttons(answer)
    assert "Is that right?" in texts(client.say("Change the category"))
    answer = client.say("Product or service quality")
    assert "· Category: Product or service quality" in texts(answer)
    filed = texts(client.say("/affirm"))  # the Submit button
    assert "registered under reference" in filed and "(5 working days)" in filed and "this chat" in filed
    row = complaint_row(database, REFERENCE.search(filed).group(0))
    assert (row.category, row.product, row.language) == ("product_service", None, "en")
    assert row.desired_outcome == "an explanation and a working app"


def test_the_customer_can_change_their_mind(client, database):
    client.start()
    client.say("I want to make a complaint")
    client.say("Your advisor never called me back about the contract terms of my fund")
    assert "no complaint was registered" in texts(client.say("cancel"))
    assert count_complaints(database, "never called me back about the contract terms") == 0
    assert "Hello" in texts(client.say("hello"))  # the form is gone: ordinary answers again


def test_an_urgent_complaint_files_at_once_with_safety_steps(client, database):
    client.start()
    client.say("我要投诉")
    answer = texts(client.say("我的账户被人登录了，不是我操作的，钱被转走了两万"))
    assert "标记为紧急" in answer and "400-820-8888" in answer and "不要向任何人透露密码或短信验证码" in answer
    row = complaint_row(database, REFERENCE.search(answer).group(0))
    assert row.urgent is True


def test_a_fraud_report_is_an_urgent_case(client, database):
    client.start()
    answer = texts(client.say("Someone stole my card details and made transfers from my account, this is fraud"))
    assert "marked this as urgent" in answer and "never share a password or SMS code" in answer
    row = complaint_row(database, REFERENCE.search(answer).group(0))
    assert row.urgent is True and row.state == "received"


def test_a_verified_customer_is_not_asked_for_contact_details_and_others_cannot_see_it(system, database):
    customer = Client(system.contact_url)
    customer.start(identity_token=identity_token("demo-premier"))
    customer.say("我要投诉，顾问给我推荐的产品合同条款和宣传的不一样")
    customer.say("对")
    customer.say("平衡配置")
    summary = texts(customer.say("按宣传的条款执行"))
    assert "联系方式：您在长青财富登记的联系方式" in summary
    reference = REFERENCE.search(texts(customer.say("确认提交"))).group(0)
    assert complaint_row(database, reference).customer_id == "demo-premier"

    stranger = Client(system.contact_url)
    stranger.start()
    answer = texts(stranger.say(f"查一下投诉 {reference}"))
    assert f"没有找到您名下编号为 {reference} 的投诉" in answer
    assert "平衡配置" not in answer and "premier" not in answer


def test_action_server_down_at_the_confirmation_files_exactly_one_complaint(system, database):
    customer = Client(system.contact_url)
    customer.start()
    marker = f"order {secrets.token_hex(3)}"
    customer.say("I want to complain")
    customer.say(f"My redemption of Cash Plus ({marker}) has not arrived after a week")
    customer.say("yes")
    customer.say("Evergreen Cash Plus")
    customer.say("the money and an explanation")
    customer.say("Answer me in this chat")
    confirm_id = secrets.token_hex(8)

    def confirm_while_down():
        answer = customer.say("/affirm", client_message_id=confirm_id)
        assert answer["replies"][0]["sender"] == "system"  # the apology; the message is kept
        assert count_complaints(database, marker) == 0

    system.restart_action_server(confirm_while_down)
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and not any("registered under reference" in m["text"] for m in customer.history()):
        time.sleep(0.5)
    assert any("registered under reference" in m["text"] for m in customer.history())
    again = customer.say("/affirm", client_message_id=confirm_id)  # the app resends it
    assert again["duplicate"] is True
    assert count_complaints(database, marker) == 1


def staff_post(base_url: str, path: str, body) -> None:
    request = urllib.request.Request(base_url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {demo_token()}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30):
        pass


def test_the_customer_sees_each_step_staff_take(client):
    client.start()
    client.say("我要投诉")
    client.say("你们的APP总是闪退，买基金的时候错过了下午三点")
    client.say("对")
    client.say("不涉及具体产品")
    client.say("修好APP")
    client.say("在本对话中回复我")
    reference = REFERENCE.search(texts(client.say("/affirm"))).group(0)
    base = client.base_url
    steps = [({"to": "acknowledged"}, "已确认"), ({"to": "investigating"}, "调查处理中"),
             ({"to": "resolved", "resolution": "已修复闪退问题，并为您补办了申购"}, "已处理完毕")]
    for body, state in steps:
        staff_post(base, f"/api/v1/staff/complaints/{reference}/transition", body)
        status = texts(client.say(f"查一下 {reference}"))
        assert f"投诉 {reference}（产品及服务质量）：{state}" in status
    assert "处理结果：已修复闪退问题，并为您补办了申购" in status
    told = [m["text"] for m in client.history() if m["sender"] == "agent"]
    assert any("已修复闪退问题" in text for text in told)  # the resolution came to the chat unasked
