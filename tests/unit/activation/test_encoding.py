"""GSM-7 / UCS-2 detection, lengths and segment counts on known strings, plus properties."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dagster_project.activation.encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SmsSize,
    encoding,
    measure,
    segments,
    sms_length,
    split_segments,
)


def test_alphabet_tables_have_the_standard_sizes():
    # 128 code points minus ESC; the extension table's nine characters plus form feed.
    assert len(GSM7_BASIC) == len(set(GSM7_BASIC)) == 127
    assert len(GSM7_EXTENSION) == 10
    assert not set(GSM7_BASIC) & set(GSM7_EXTENSION)


@pytest.mark.parametrize(
    ("length", "expected"),
    [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_plain_ascii_segments(length, expected):
    text = "a" * length
    assert measure(text) == SmsSize("GSM-7", length, expected)
    assert segments(text) == expected


def test_empty_text_has_no_segments():
    assert measure("") == SmsSize("GSM-7", 0, 0)
    assert split_segments("") == ()


@pytest.mark.parametrize("char", list(GSM7_EXTENSION))
def test_extension_characters_count_two_septets(char):
    assert encoding(char) == "GSM-7"
    assert sms_length(char) == 2
    assert sms_length(f"Sale{char}") == 6


def test_euro_and_brace_count_double():
    assert sms_length("10€") == 4
    assert sms_length("{x}") == 5
    # 80 euros are 160 septets (one part); one more character makes two.
    assert measure("€" * 80) == SmsSize("GSM-7", 160, 1)
    assert measure("€" * 80 + "a") == SmsSize("GSM-7", 161, 2)


def test_gsm_accents_stay_gsm7():
    text = "Grüße aus München, Ærø, Año! ¿Qué? §5 ¥100 £5 @home"
    assert encoding(text) == "GSM-7"
    assert sms_length(text) == len(text)
    # ... but not every accent is: ú and ç are not in the alphabet.
    assert encoding("Ñandú") == "UCS-2"


def test_turkish_s_cedilla_switches_the_whole_message_to_ucs2():
    text = "a" * 69 + "ş"
    assert measure(text) == SmsSize("UCS-2", 70, 1)
    assert measure(text + "b") == SmsSize("UCS-2", 71, 2)
    assert measure("ş" * 134) == SmsSize("UCS-2", 134, 2)
    assert measure("ş" * 135) == SmsSize("UCS-2", 135, 3)
    # The same 150 Latin letters are one GSM-7 part, but three UCS-2 parts with one ş.
    assert segments("a" * 150) == 1
    assert segments("a" * 149 + "ş") == 3


def test_lowercase_c_cedilla_is_not_gsm7():
    # GSM 03.38 has only the capital Ç.
    assert encoding("Ç") == "GSM-7"
    assert encoding("ç") == "UCS-2"


def test_emoji_switches_to_ucs2_and_counts_two_units():
    assert measure("Hi 👋") == SmsSize("UCS-2", 5, 1)
    assert sms_length("👋") == 2
    assert measure("👋" * 35) == SmsSize("UCS-2", 70, 1)
    assert measure("👋" * 36) == SmsSize("UCS-2", 72, 2)


def test_bmp_symbol_counts_one_ucs2_unit():
    assert measure("✓ ok") == SmsSize("UCS-2", 4, 1)


def test_escape_sequence_is_never_split():
    # 152 plain septets then a euro: the euro's two septets would straddle the
    # 153 boundary, so it starts part two, which then overflows into a third.
    text = "a" * 152 + "€" + "b" * 152
    assert sms_length(text) == 306  # ceil(306 / 153) would be 2
    parts = split_segments(text)
    assert [sms_length(p) for p in parts] == [152, 153, 1]
    assert parts[1].startswith("€")
    assert segments(text) == 3


def test_surrogate_pair_is_never_split():
    text = "ş" * 66 + "👋" + "ş" * 66
    assert sms_length(text) == 134
    parts = split_segments(text)
    assert [sms_length(p) for p in parts] == [66, 67, 1]
    assert parts[1].startswith("👋")
    assert segments(text) == 3


_gsm_text = st.text(alphabet=GSM7_BASIC + GSM7_EXTENSION, max_size=700)
_any_text = st.text(max_size=400)


@given(st.one_of(_gsm_text, _any_text))
def test_split_parts_fit_and_rejoin(text):
    size = measure(text)
    parts = split_segments(text)
    assert "".join(parts) == text
    assert len(parts) == size.segments == segments(text)
    per_part = 153 if size.encoding == "GSM-7" else 67
    single = 160 if size.encoding == "GSM-7" else 70
    if size.units > single:
        for part in parts:
            # Each part is measured in the whole message's encoding.
            units = (
                len(part) + sum(part.count(c) for c in GSM7_EXTENSION)
                if size.encoding == "GSM-7"
                else len(part.encode("utf-16-le")) // 2
            )
            assert 0 < units <= per_part


@given(st.one_of(_gsm_text, _any_text))
def test_segments_never_below_the_plain_division(text):
    size = measure(text)
    per_part = 153 if size.encoding == "GSM-7" else 67
    if size.units:
        assert size.segments >= math.ceil(size.units / per_part)
        # Atomic characters of width two waste at most one unit per part.
        assert size.segments <= max(1, math.ceil(size.units / (per_part - 1)))


@given(_any_text)
def test_one_non_gsm_character_decides(text):
    is_gsm = all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)
    assert encoding(text) == ("GSM-7" if is_gsm else "UCS-2")
