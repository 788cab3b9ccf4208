"""Long messages are read from the sentences that carry their request (bot/nlu/request_focus.py)."""

from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.request_focus import REQUEST_TEXT, RequestFocus, request_spans, sentence_spans
from bot.nlu.tokenizer import BilingualJiebaTokenizer

STORY_ZH = ("我2021年在上海网点开的户。当时理财经理推荐我买了稳盈债券A。之后每个月工资到账我都追加一点。"
            "今年家里老人住院花了不少钱。")
STORY_EN = ("I opened my account in 2021. My advisor suggested Steady Bond A. I topped it up every month. "
            "This year my mother was in hospital for months. ")


def focus(text):
    return [text[begin:end] for begin, end in request_spans(text) or []]


def test_ordinary_messages_are_read_whole():
    assert request_spans("长青货币宝起购金额是多少") is None
    assert request_spans("你好。我想问一下，稳盈债券A赎回几天到账？谢谢") is None
    assert request_spans("Hi. How do I redeem Steady Bond A? Thanks.") is None


def test_a_long_message_is_read_from_its_last_request_sentences():
    assert focus(STORY_ZH + "所以想问一下，现在怎么赎回？赎回的钱几天到账？") == ["所以想问一下，现在怎么赎回？", "赎回的钱几天到账？"]
    assert focus(STORY_EN + "So how do I redeem it in the app? And when will the money arrive?") == [
        "So how do I redeem it in the app?", "And when will the money arrive?"]


def test_a_request_at_the_start_is_found_past_a_closing_thanks():
    text = "How do I redeem Steady Bond A in the app? " + STORY_EN + "Thanks a lot. Best regards."
    assert focus(text) == ["How do I redeem Steady Bond A in the app?"]


def test_a_long_message_that_asks_nothing_is_read_whole():
    assert request_spans(STORY_ZH * 3) is None


def test_sentences_end_at_punctuation_but_not_inside_numbers():
    text = "Fees fell 3.5% this year. Why? 费用降了。"
    assert [text[b:e] for b, e in sentence_spans(text)] == ["Fees fell 3.5% this year.", "Why?", "费用降了。"]


def test_the_featurizers_read_only_the_request_tokens_but_the_text_stays_whole():
    text = STORY_ZH + "请问现在怎么赎回？"
    message = Message({TEXT: text})
    tokenizer = BilingualJiebaTokenizer(BilingualJiebaTokenizer.get_default_config(), None, None)
    tokenizer.process([message])
    RequestFocus().process([message])
    assert [t.text for t in message.get(TOKENS_NAMES[TEXT])] == [t.text for t in tokenizer.tokenize(Message({TEXT: "请问现在怎么赎回？"}), TEXT)]
    assert message.get(TEXT) == text and message.get(REQUEST_TEXT) == "请问现在怎么赎回？"
