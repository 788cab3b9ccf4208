"""Compliance of what the assistant can say (spec 7.3): it never asks for a password or a code
and never promises returns. Checks every customer-facing text in the knowledge files."""

import re

import pytest

from bot import knowledge


ASKS_FOR_SECRETS = [
    re.compile(r"(请|麻烦|需要)您?.{0,8}(提供|告诉|输入|发送|回复).{0,8}(密码|验证码)"),
    re.compile(r"\b(tell|give|send|provide|share|enter|type)\b.{0,12}\b(me|us)\b.{0,12}\b(password|code|pin)\b", re.I),
    re.compile(r"\bwhat is your (password|code|pin)\b", re.I),
]
# A denial ("不保本", "no guaranteed return") is what the assistant must say when asked, so it
# does not count as a promise.
PROMISES_RETURNS = [
    re.compile(r"(?<![不非])(保证收益|保本)|稳赚|零风险|无风险|一定赚"),
    re.compile(r"(?<!no )guaranteed (return|profit|income)|risk[- ]free|no risk|can't lose|cannot lose", re.I),
]


def customer_texts(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from customer_texts(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from customer_texts(value, f"{path}[{index}]")
    elif isinstance(node, str):
        yield path, node


ALL_TEXTS = [
    (f"{name}{path}", text)
    for name in ("messages", "faq", "products", "market", "branches")
    for path, text in customer_texts(knowledge.load(name))
]


def test_there_are_texts_to_check():
    assert len(ALL_TEXTS) > 150


@pytest.mark.parametrize("pattern", ASKS_FOR_SECRETS + PROMISES_RETURNS, ids=lambda p: p.pattern[:30])
def test_no_text_asks_for_secrets_or_promises_returns(pattern):
    offending = [(where, text) for where, text in ALL_TEXTS if pattern.search(text)]
    assert not offending


def test_the_patterns_would_catch_an_offending_text():
    assert any(p.search("为了核实身份，请您提供短信验证码") for p in ASKS_FOR_SECRETS)
    assert any(p.search("Please tell me your password so I can check") for p in ASKS_FOR_SECRETS)
    assert any(p.search("This fund is risk-free") for p in PROMISES_RETURNS)
    assert any(p.search("本产品保本保收益") for p in PROMISES_RETURNS)
    assert any(p.search("It has a guaranteed return of 3%") for p in PROMISES_RETURNS)
    assert not any(p.search("货币宝不保本，也不保证收益；it has no guaranteed return") for p in PROMISES_RETURNS)


def test_the_disclosure_is_the_spec_wording():
    assert knowledge.risk_disclosure("zh") == "理财非存款，产品有风险，投资须谨慎。"
    assert knowledge.risk_disclosure("en") == (
        "Wealth management products are not deposits. Investing involves risk; "
        "past performance does not guarantee future results."
    )
