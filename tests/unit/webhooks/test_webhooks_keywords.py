"""Replies classified (opt-out, opt-in, help, free) and the texts answered, per language."""

from __future__ import annotations

import pytest

from dagster_project.activation.messages import FOOTERS
from dagster_project.contracts.consent_keywords import HELP_WORDS, OPT_IN_WORDS, OPT_OUT_WORDS
from dagster_project.webhooks.config import replies_path
from dagster_project.webhooks.keywords import classify, fold
from dagster_project.webhooks.replies import RepliesError, load_replies, reply_language


def _cases(table):
    return sorted({(language, word) for language, words in table.items() for word in words})


@pytest.mark.parametrize("language, word", _cases(OPT_OUT_WORDS))
def test_every_opt_out_word_opts_out(language, word):
    found = classify(word)
    assert found.action == "opt_out"
    assert found.keyword == fold(word)
    assert found.language in (language, "en")
    for variant in (word.lower(), f"  {word.title()}. ", f"{word}!\n", f"\t{word.lower()} 🛑"):
        assert classify(variant) == found, variant


@pytest.mark.parametrize("language, word", _cases(OPT_IN_WORDS))
def test_every_opt_in_word_opts_in(language, word):
    found = classify(f" {word.lower()} ")
    assert (found.action, found.keyword) == ("opt_in", fold(word))


@pytest.mark.parametrize("language, word", _cases(HELP_WORDS))
def test_every_help_word_asks_for_help(language, word):
    assert classify(f"{word}?").action == "help"


def test_the_compliance_words_are_all_there():
    assert {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"} == {
        k for k, c in [(w, classify(w)) for w in OPT_OUT_WORDS["en"]] if c.action == "opt_out"
    }
    assert [classify(w).action for w in ("START", "UNSTOP", "YES")] == ["opt_in"] * 3
    assert [classify(w).action for w in ("HELP", "INFO")] == ["help"] * 2


@pytest.mark.parametrize(
    "text, expected",
    [
        ("  stop. ", ("opt_out", "STOP", "en")),
        ("Stop!!!", ("opt_out", "STOP", "en")),
        ("STOP ALL", ("opt_out", "STOPALL", "en")),
        ("opt-out", ("opt_out", "OPTOUT", "en")),
        ("Unsubscribe\r\n", ("opt_out", "UNSUBSCRIBE", "en")),
        ("stopp", ("opt_out", "STOPP", "de")),
        ("Abmelden.", ("opt_out", "ABMELDEN", "de")),
        # Turkish casing: dotted capital İ, dotless ı, and lower() of İ (i + combining dot)
        ("İPTAL", ("opt_out", "IPTAL", "tr")),
        ("iptal", ("opt_out", "IPTAL", "tr")),
        ("İptal", ("opt_out", "IPTAL", "tr")),
        ("ıptal", ("opt_out", "IPTAL", "tr")),
        ("İPTAL".lower(), ("opt_out", "IPTAL", "tr")),
        ("Ret", ("opt_out", "RET", "tr")),
        ("başla", ("opt_in", "BASLA", "tr")),
        ("BAŞLA", ("opt_in", "BASLA", "tr")),
        ("yardım", ("help", "YARDIM", "tr")),
        ("Hilfe?", ("help", "HILFE", "de")),
        ("yes", ("opt_in", "YES", "en")),
    ],
)
def test_case_whitespace_punctuation_and_turkish_casing(text, expected):
    assert tuple(classify(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "please don't stop",
        "STOP sending me these",
        "stop2",
        "The end",
        "yes please",
        "ja",  # left out on purpose: a bare yes answers whatever was asked
        "evet",
        "anmelden",  # one key from ABMELDEN: never read as an opt-in
        "",
        "   ",
        "🛑",
        None,
        "x" * 2000,
    ],
)
def test_free_replies_are_not_keywords(text):
    assert tuple(classify(text)) == (None, None, None)


def test_every_footer_advertises_a_word_the_classifier_opts_out_on():
    for language, footer in FOOTERS.items():
        advertised = [w for w in footer.split() if w.isupper() and w != "SMS"]
        assert advertised and all(classify(w).action == "opt_out" for w in advertised), language


# --- replies.yml ------------------------------------------------------------------------


def test_the_shipped_replies_cover_every_language_and_action():
    replies = load_replies(replies_path())
    for language in OPT_OUT_WORDS:
        for action in ("help", "opt_out", "opt_in"):
            text = replies.text(action, language)
            assert text and "{" not in text and text.startswith(replies.sender_name)
    assert replies.text(None, "en") is None
    assert replies.text("help", "fr") == replies.text("help", "en")  # no French: English


def test_reply_language_localized_keyword_then_phone_country_then_english():
    assert reply_language("tr", "+14155550105") == "tr"
    assert reply_language("en", "+4917612345678") == "de"  # STOP from Germany
    assert reply_language("en", "+436641234567") == "de"
    assert reply_language("en", "+905321234567") == "tr"
    assert reply_language("en", "+14155550105") == "en"
    assert reply_language("en", "12345") == "en"
    assert reply_language(None, None) == "en"


VALID = """\
sender_name: Shop
languages:
  en: {help: "{sender}: help. Reply STOP to opt out.", opt_out: "bye", opt_in: "hi"}
  de: {help: "{sender}: Hilfe. STOPP", opt_out: "tschuess", opt_in: "hallo"}
  tr: {help: "{sender}: yardim. RET yazin", opt_out: "x", opt_in: "y"}
"""


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.replace("  tr:", "  xx:"), "no replies for tr"),
        (lambda t: t.replace(', opt_in: "hi"', ""), "field languages.en.opt_in: Field required"),
        (
            lambda t: t.replace('"bye"', '"bye {name}"'),
            "languages.en.opt_out: unknown placeholder {name}",
        ),
        (
            lambda t: t.replace("Reply STOP to opt out.", "call us"),
            "languages.en.help: must tell how to opt out",
        ),
        (lambda t: t.replace("sender_name: Shop\n", ""), "field sender_name: Field required"),
        (lambda t: t + "colour: blue\n", "field colour: Extra inputs are not permitted"),
        (lambda t: t.replace('"bye"', '"' + "x" * 400 + '"'), "languages.en.opt_out"),
        (lambda t: "- a list\n", "a mapping with sender_name and languages"),
        (lambda t: "languages: [\n", "not valid YAML"),
    ],
)
def test_replies_errors_name_the_file_and_field(tmp_path, edit, message):
    path = tmp_path / "replies.yml"
    path.write_text(VALID)
    load_replies(path)  # the unedited file is fine
    path.write_text(edit(VALID))
    with pytest.raises(RepliesError) as exc:
        load_replies(path)
    assert str(exc.value).startswith(f"{path}: ")
    assert message in str(exc.value)
