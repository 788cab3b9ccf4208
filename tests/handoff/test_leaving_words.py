"""The words with which a waiting customer leaves the queue, and words that only sound like it."""

from __future__ import annotations

import pytest

from bot.handoff.router import wants_to_leave


@pytest.mark.parametrize("text", ["不等了", "我不等了，谢谢", "取消排队", "算了吧。", "取消", "不想等了", "我等不了了",
                                  "cancel", "Cancel.", "I'll stop waiting", "never mind", "I don't want to wait any longer"])
def test_leaving_the_queue(text):
    assert wants_to_leave(text)


@pytest.mark.parametrize("text", ["我不想等太久，能快点吗", "怎么取消定投", "cancel my order", "please don't make me wait long",
                                  "还要等多久", "赎回多久到账"])
def test_not_leaving_the_queue(text):
    assert not wants_to_leave(text)
