"""``bot.privacy``: what is masked and, as much, what must be left alone (issue #15, item 5)."""

import logging

import pytest

from bot.privacy import install_log_masking, mask_sensitive, mobile_numbers


MASKED = [
    # a code a few words after its cue
    ("the verification code I just got is 448120", "the verification code I just got is ******"),
    ("验证码我刚收到，是384920", "验证码我刚收到，是******"),
    # passwords, passcodes, PINs
    ("我的密码是abc123456帮我登录", "我的密码是******帮我登录"),
    ("登录密码：Abc@2026", "登录密码：******"),
    ("交易密码为 135790，帮我看看", "交易密码为 ******，帮我看看"),
    ("支付密码=246810", "支付密码=******"),
    ("密碼是abcdef", "密碼是******"),  # letters only, but a Chinese connector says it is the password
    ("我的密码123456", "我的密码******"),
    ("口令：Tiger7788", "口令：******"),
    ("PIN码是1234", "PIN码是******"),
    ("my password is hunter2.", "my password is ******."),
    ("Password: P@ssw0rd1", "Password: ******"),
    ("my PIN is 4321", "my PIN is ******"),
    ("passcode 90817", "passcode ******"),
    ("pwd=abc12345 thanks", "pwd=****** thanks"),
    ("密码：１２３４５６", "密码：******"),  # full-width digits
    # one-time codes
    ("我收到了验证码 384920，要告诉你吗", "我收到了验证码 ******，要告诉你吗"),
    ("驗證碼：384920", "驗證碼：******"),
    ("短信验证码是５５６６７７", "短信验证码是******"),
    ("校验码 A7K9Q2", "校验码 ******"),
    ("动态码为 2468", "动态码为 ******"),
    ("The verification code is 384920", "The verification code is ******"),
    ("OTP: 552100", "OTP: ******"),
    ("I got a code 384920, should I tell you?", "I got a code ******, should I tell you?"),
    ("my one-time code: AB12CD", "my one-time code: ******"),
    ("SMS code 7788", "SMS code ******"),
    # card security codes
    ("my CVV is 123", "my CVV is ***"),
    ("CVV2: 987", "CVV2: ***"),
    ("卡背面安全码是 456", "卡背面安全码是 ***"),
    ("安全碼：4567", "安全碼：***"),
    ("security code 321", "security code ***"),
    # card, ID and mobile numbers
    ("卡号 4111111111111111", "卡号 4111 **** **** 1111"),
    ("card 4111 1111 1111 1111", "card 4111 **** **** 1111"),
    ("card 6222-0212-3456-7890", "card 6222 **** **** 7890"),  # fails Luhn: masked all the same
    ("卡号６２２２０２１２３４５６７８９０", "卡号６２２２ **** **** ７８９０"),
    ("ID 11010519491231002X ok", "ID 110105********002X ok"),
    ("手机13812345678", "手机138****5678"),
    ("call +86 139 1234 5678", "call 139****5678"),
]

LEFT_ALONE = [
    "忘记密码了怎么办",
    "密码输错3次被锁了",
    "交易密码为6位数字吗",
    "登录密码和交易密码是一样的吗",
    "my password is wrong",
    "how do I reset my password?",
    "The verification code is invalid",
    "验证码60秒内有效",
    "验证码已于2026年12月6日发送",
    "我没收到验证码",
    "spinning 1234 times",
    "barcode 1234",
    "fund code 000001",
    "product code EG-MM01",
    "error code 1001",
    "postal code 200120",
    "长青货币宝 EG-MM01 的净值 1.2345",
    "投诉编号 C20261206-483928",
    "咨询编号Q20261128-483924",
    "我想买100000元，大概1,000,000",
    "订单 2026112800001 金额 1000000",
    "请明天下午3点给我回电话，2026-12-06 14:30",
    "预约 12月8日 10:00-10:30",
    "CVV是什么",
]


@pytest.mark.parametrize("text,expected", MASKED)
def test_secrets_and_personal_numbers_are_masked(text, expected):
    assert mask_sensitive(text) == expected
    assert mask_sensitive(expected) == expected  # masking twice changes nothing


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_what_looks_like_a_secret_but_is_none_is_left_alone(text):
    assert mask_sensitive(text) == text


def test_a_mobile_is_still_found_for_sealing_beside_secrets():
    text = "密码是abc123456，验证码 384920，回电 13812345678，卡 4111111111111111"
    assert mobile_numbers(text) == [("13812345678", "138****5678")]
    masked = mask_sensitive(text)
    assert "138****5678" in masked and not any(s in masked for s in ("abc123456", "384920", "13812345678", "41111111"))


@pytest.fixture
def masking_logs():
    factory = logging.getLogRecordFactory()
    install_log_masking()
    install_log_masking()  # twice: still one masking
    yield
    logging.setLogRecordFactory(factory)


def test_log_records_are_masked_with_their_tracebacks(masking_logs, caplog):
    log = logging.getLogger("bot.server.app")
    with caplog.at_level(logging.INFO):
        log.info("customer wrote %r", "我的密码是abc123456，CVV 987")
        try:
            raise ValueError("unparsable: my verification code is 384920")
        except ValueError:
            log.exception("handling failed")
    assert "abc123456" not in caplog.text and "384920" not in caplog.text and "987" not in caplog.text
    assert "我的密码是******" in caplog.text and "verification code is ******" in caplog.text
    assert "ValueError" in caplog.text  # the traceback is still there
