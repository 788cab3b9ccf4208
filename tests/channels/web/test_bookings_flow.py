"""Callbacks and advisor appointments as customers book them through the contact service, and
as staff find them in their lists; against SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import urllib.request

from bot.core.staff import demo_token
from bot.references import pattern
from tests.support.clients import Client, texts
from tests.support.system import identity_token


def offered(answer):
    """The titles of the buttons of the assistant's last reply."""
    return [b["title"] for b in answer["replies"][-1]["buttons"]]


def staff_list(system, what: str):
    request = urllib.request.Request(f"{system.contact_url}/api/v1/staff/{what}",
                                     headers={"Authorization": f"Bearer {demo_token()}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())[what]


def test_a_callback_in_chinese_with_a_corrected_time_lands_in_the_staff_list(client, system):
    client.start()
    assert "怎么称呼您" in texts(client.say("能不能让客服给我回个电话"))
    assert "手机号" in texts(client.say("张先生"))
    assert "中国大陆手机号" in texts(client.say("12345"))  # not a mobile number: asked again
    answer = client.say("13912345678")
    assert "客服每天 09:00–21:00 回电" in texts(answer)
    first_title, second_title = offered(answer)[:2]
    summary = client.tap(answer, first_title)  # clicks the first window offered
    assert f"· 时间：{first_title}" in texts(summary) and "· 手机：139****5678" in texts(summary)
    assert "13912345678" not in json.dumps(client.history(), ensure_ascii=False)
    again = client.say("修改时间")
    summary = client.tap(again, second_title)
    assert f"· 时间：{second_title}" in texts(summary)
    booked = texts(client.tap(summary, payload="/affirm"))
    reference = re.search(pattern("CB"), booked).group(0)
    assert f"客服将在 {second_title} 拨打 139****5678" in booked

    listed = [c for c in staff_list(system, "callbacks") if c["reference"] == reference]
    assert len(listed) == 1 and listed[0]["name"] == "张先生" and listed[0]["mobile"] == "139****5678"
    assert listed[0]["mobile_number"] == "13912345678"  # staff can call; stored only encrypted
    assert listed[0]["state"] == "requested" and listed[0]["window_start"].endswith("+08:00")


def test_an_advisor_appointment_for_a_verified_customer_in_english(system):
    customer = Client(system.contact_url)
    customer.start(identity_token=identity_token("demo-english"))
    answer = customer.say("I'd like to meet an advisor at your Shenzhen branch")
    assert "When would suit you?" in texts(answer)  # the city was in the request
    title = offered(answer)[0]
    assert "mobile number" in texts(customer.tap(answer, title))  # verified: no name asked
    shown = customer.say("+86 139 1234 5678")
    summary = texts(shown)
    assert "Branch: Shenzhen (15F, 6008 Shennan Avenue, Futian, Shenzhen)" in summary and f"Time: {title}" in summary
    booked = texts(customer.tap(shown, payload="/affirm"))
    reference = re.search(pattern("AP"), booked).group(0)
    assert "0755-8388-8888" in booked and "bring your ID" in booked
    listed = [a for a in staff_list(system, "appointments") if a["reference"] == reference]
    assert listed[0]["city"] == "Shenzhen" and listed[0]["customer_id"] == "demo-english"
    assert listed[0]["mobile_number"] == "13912345678"


def test_an_abandoned_booking_books_nothing(client, system):
    before = len(staff_list(system, "appointments"))
    client.start()
    client.say("book an appointment with an advisor")
    client.say("Guangzhou")
    assert "no appointment was booked" in texts(client.say("cancel"))
    assert len(staff_list(system, "appointments")) == before
