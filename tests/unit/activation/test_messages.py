"""Template validation and rendering: fallbacks, address forms, footers, tracked links, sandbox."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dagster_project.activation.messages import (
    FOOTERS,
    OPT_OUT_WORDS,
    SUPPORTED_LANGUAGES,
    TOKEN_LENGTH,
    MessageRenderer,
    RenderedMessage,
    TemplateError,
    TrackedLink,
    clean_first_name,
    is_formal,
    link_token,
    validate_template,
)

SALE = "https://shop.example/sale"
BASE = "https://t.shop.example"
TEMPLATES = {
    "en": "{{ greeting }}, we miss you! 20% off this week: {{ link('" + SALE + "') }}",
    "de": "{{ greeting }}, wir vermissen {{ 'Sie' if formal else 'dich' }}! "
    "{{ link('" + SALE + "') }}",
    "tr": "{{ greeting }}, {{ 'sizi' if formal else 'seni' }} ozledik! {{ link('" + SALE + "') }}",
}


def renderer(kind="marketing", templates=TEMPLATES, fallback="en", **kwargs):
    return MessageRenderer(templates, fallback, kind, BASE, "test-secret", **kwargs)


def person(customer_id=1, first_name="Anna", language="en", age_band="25-34", country="GB"):
    return {
        "customer_id": customer_id,
        "first_name": first_name,
        "language": language,
        "country": country,
        "age_band": age_band,
    }


def key(customer_id=1, campaign="winback", day="2025-10-07", variant="A"):
    return f"{campaign}|{customer_id}|{day}|{variant}"


def body(message: RenderedMessage) -> str:
    """The text without the opt-out footer line."""
    return message.text.split("\n")[0]


# --- personalization ----------------------------------------------------------------


def test_first_name_greeting():
    message = renderer().render(person(), key())
    assert body(message).startswith("Hi Anna, we miss you! 20% off this week: ")


@pytest.mark.parametrize("missing", [None, "", "   ", "\t", "-", "...", "x" * 31, 42, float("nan")])
def test_no_first_name_gives_neutral_greeting(missing):
    message = renderer().render(person(first_name=missing), key())
    assert body(message).startswith("Hi there, we miss you!")
    assert "Hi ," not in message.text
    assert "  " not in message.text


def test_template_using_first_name_directly_never_leaves_a_gap():
    r = renderer(templates={"en": "Hi {{ first_name }}, new arrivals  are in."})
    assert body(r.render(person(first_name=None), key())) == "Hi, new arrivals are in."
    assert body(r.render(person(first_name="Ben"), key())) == "Hi Ben, new arrivals are in."


def test_first_name_is_cleaned_of_control_characters_and_extra_spaces():
    assert clean_first_name("  Anna \n Lena\u200b ") == "Anna Lena"
    assert clean_first_name("Anna \u200b Lena") == "Anna Lena"
    assert clean_first_name("Ayşe") == "Ayşe"
    message = renderer().render(person(first_name="Anna\nReply YES for cash"), key())
    assert body(message).startswith("Hi Anna Reply YES for cash,")
    assert message.text.count("\n") == 1  # only the footer's line break


def test_name_is_not_reinterpreted_as_template():
    message = renderer().render(person(first_name="{{ greeting }}"), key())
    assert body(message).startswith("Hi {{ greeting }},")


@pytest.mark.parametrize(
    ("language", "age_band", "formal", "greeting"),
    [
        ("de", "18-24", False, "Hallo Anna, wir vermissen dich!"),
        ("de", "25-34", False, "Hallo Anna, wir vermissen dich!"),
        ("de", "35-44", True, "Guten Tag Anna, wir vermissen Sie!"),
        ("de", "45-54", True, "Guten Tag Anna, wir vermissen Sie!"),
        ("de", "65+", True, "Guten Tag Anna, wir vermissen Sie!"),
        ("de", "unknown", True, "Guten Tag Anna, wir vermissen Sie!"),
        ("de", None, True, "Guten Tag Anna, wir vermissen Sie!"),
        ("tr", "under_18", False, "Selam Anna, seni ozledik!"),
        ("tr", "55-64", True, "Merhaba Anna, sizi ozledik!"),
        ("tr", "unknown", True, "Merhaba Anna, sizi ozledik!"),
        ("en", "65+", False, "Hi Anna, we miss you!"),
        ("en", "unknown", False, "Hi Anna, we miss you!"),
    ],
)
def test_formal_or_informal_by_language_and_age_band(language, age_band, formal, greeting):
    message = renderer().render(person(language=language, age_band=age_band), key())
    assert message.formal is formal
    assert message.language == language
    assert body(message).startswith(greeting)


@pytest.mark.parametrize(
    ("language", "formal", "expected"),
    [
        ("de", False, "Hallo, wir vermissen dich!"),
        ("de", True, "Guten Tag, wir vermissen Sie!"),
        ("tr", False, "Selam, seni ozledik!"),
        ("tr", True, "Merhaba, sizi ozledik!"),
    ],
)
def test_neutral_greetings_per_language(language, formal, expected):
    band = "unknown" if formal else "25-34"
    message = renderer().render(person(first_name=None, language=language, age_band=band), key())
    assert body(message).startswith(expected)


def test_is_formal_rule():
    assert not is_formal("en", "65+")
    assert is_formal("de", "35-44")
    assert not is_formal("de", "25-34")
    assert is_formal("tr", "bogus")


@pytest.mark.parametrize(
    ("stated", "used"),
    [("de", "de"), ("DE", "de"), ("de-AT", "de"), ("tr_TR", "tr"), ("fr", "en"), (None, "en")],
)
def test_template_language_falls_back(stated, used):
    assert renderer().render(person(language=stated), key()).language == used


def test_fallback_language_other_than_english():
    r = renderer(templates={"de": TEMPLATES["de"], "tr": TEMPLATES["tr"]}, fallback="de")
    message = r.render(person(language="en", age_band="unknown"), key())
    assert message.language == "de"
    assert message.text.endswith(FOOTERS["de"])


# --- footer -------------------------------------------------------------------------


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_marketing_gets_localized_footer_exactly_once(language):
    message = renderer().render(person(language=language), key())
    assert message.text.endswith("\n" + FOOTERS[language])
    assert message.text.count(FOOTERS[language]) == 1


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_transactional_gets_no_footer(language):
    message = renderer(kind="transactional").render(person(language=language), key())
    assert not any(footer in message.text for footer in FOOTERS.values())
    assert "\n" not in message.text


def test_footer_already_in_template_is_not_repeated():
    templates = {"en": "{{ greeting }}! Sale today.\nreply stop to opt out"}
    message = renderer(templates=templates).render(person(), key())
    assert message.text == "Hi Anna! Sale today.\nreply stop to opt out"


def test_first_name_cannot_stand_in_for_the_footer():
    message = renderer().render(person(first_name="reply STOP to opt out"), key())
    assert body(message).startswith("Hi there,")
    assert message.text.endswith("\n" + FOOTERS["en"])


def test_footers_advertise_a_listed_opt_out_word_and_stay_gsm7():
    from dagster_project.activation.encoding import encoding

    assert set(FOOTERS) == set(OPT_OUT_WORDS) == set(SUPPORTED_LANGUAGES)
    for language, footer in FOOTERS.items():
        advertised = {word for word in re.findall(r"\b[A-ZİĞŞÇÖÜ]{2,}\b", footer) if word != "SMS"}
        assert advertised, footer
        assert advertised <= set(OPT_OUT_WORDS[language]), (language, advertised)
        assert encoding(footer) == "GSM-7"
    carrier_words = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
    for words in OPT_OUT_WORDS.values():
        assert carrier_words <= set(words)
    assert {"STOPP", "ABMELDEN"} <= set(OPT_OUT_WORDS["de"])


# --- links --------------------------------------------------------------------------


def test_tracked_link_replaces_target():
    message = renderer().render(person(), key())
    (link,) = message.links
    assert link == TrackedLink(link.token, SALE)
    assert f"{BASE}/c/{link.token}" in message.text
    assert SALE not in message.text
    assert re.fullmatch(f"[0-9A-Za-z]{{{TOKEN_LENGTH}}}", link.token)


def test_link_tokens_are_deterministic_and_distinct():
    r = renderer()
    first = r.render(person(), key()).links[0].token
    assert r.render(person(), key()).links[0].token == first  # rerun
    assert renderer().render(person(), key()).links[0].token == first  # new process, same secret
    assert r.render(person(customer_id=2), key(customer_id=2)).links[0].token != first
    assert r.render(person(), key(day="2025-10-08")).links[0].token != first
    other_secret = MessageRenderer(TEMPLATES, "en", "marketing", BASE, "another-secret")
    assert other_secret.render(person(), key()).links[0].token != first
    assert link_token(key(), SALE, "s") != link_token(key(), SALE + "?x", "s")


def test_each_target_gets_its_own_token_and_repeats_share_one():
    templates = {
        "en": "{{ link('https://shop.example/a') }} {{ link('https://shop.example/b') }} "
        "{{ link('https://shop.example/a') }}"
    }
    message = renderer(kind="transactional", templates=templates).render(person(), key())
    assert [link.target_url for link in message.links] == [
        "https://shop.example/a",
        "https://shop.example/b",
    ]
    a, b = (f"{BASE}/c/{link.token}" for link in message.links)
    assert message.text == f"{a} {b} {a}"


@pytest.mark.parametrize(
    "target",
    ["ftp://shop.example/x", "javascript:alert(1)", "shop.example/sale", "https://", "http://a b"],
)
def test_non_http_link_refused(target):
    with pytest.raises(TemplateError, match="link target"):
        validate_template("Sale: {{ link('" + target + "') }}")


def test_link_needs_a_literal_url():
    with pytest.raises(TemplateError, match="line 2: link\\(\\) takes exactly one literal URL"):
        validate_template("Hi\n{{ link('https://shop.example/' ~ country) }}")


# --- validation and the sandbox -----------------------------------------------------


def test_unknown_token_refused_with_name_and_line():
    with pytest.raises(TemplateError) as caught:
        validate_template(
            "Hello\n{{ greeting }}\n{{ last_name }}", name="winback.yml: templates.en"
        )
    message = str(caught.value)
    assert message.startswith("winback.yml: templates.en, line 3: unknown token 'last_name'")
    assert "first_name" in message  # lists what is allowed
    assert caught.value.lineno == 3


def test_syntax_error_names_the_line():
    with pytest.raises(TemplateError, match=r"line 2: syntax error"):
        validate_template("Hi\n{% if first_name %}no end")


def test_unknown_filter_refused():
    with pytest.raises(TemplateError, match="No filter named 'shout'"):
        validate_template("{{ greeting|shout }}")


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__ }}",
        "{{ first_name.__class__.__mro__ }}",
        "{{ greeting['__class__'] }}",
        "{{ first_name|attr('__class__') }}",
        "{{ greeting[('_' ~ '_class_' ~ '_')] }}",
        "{{ ''.format.__globals__ }}",
    ],
)
def test_sandbox_refuses_internals(template):
    with pytest.raises(TemplateError, match="internal attribute|unsafe"):
        validate_template(template)


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{% include 'other.txt' %}", "include"),
        ("{% import 'm' as m %}", "import"),
        ("{% extends 'base' %}", "extends"),
        ("{{ 9 ** 9 ** 9 }}", "power operator"),
        ("{{ 'ha' * 100000 }}", "repetition longer"),
        ("{{ range(3) }}", "unknown token 'range'"),
        ("{{ lipsum() }}", "unknown token 'lipsum'"),
        ("{{ link }}", "link must be called"),
    ],
)
def test_unsafe_constructs_refused(template, problem):
    with pytest.raises(TemplateError, match=re.escape(problem)):
        validate_template(template)


def test_template_empty_without_first_name_refused():
    with pytest.raises(TemplateError, match="empty message without a first name"):
        validate_template("{% if first_name %}Hi {{ first_name }}{% endif %}")


def test_renderer_checks_its_configuration():
    with pytest.raises(TemplateError, match="language 'fr' has no greetings"):
        renderer(templates={"en": "Hi", "fr": "Salut"})
    with pytest.raises(TemplateError, match="fallback language 'de' has no template"):
        renderer(templates={"en": "Hi"}, fallback="de")
    with pytest.raises(TemplateError, match="kind must be"):
        renderer(kind="promo")
    with pytest.raises(TemplateError, match="link_secret is empty"):
        MessageRenderer({"en": "Hi"}, "en", "marketing", BASE, "")
    with pytest.raises(TemplateError, match="link_base_url"):
        MessageRenderer({"en": "Hi"}, "en", "marketing", "t.shop.example", "s")
    with pytest.raises(TemplateError, match=r"winback\[de\], line 1: unknown token 'vorname'"):
        renderer(templates={"en": "Hi", "de": "{{ vorname }}"}, name="winback")


def test_overlong_message_refused_at_render():
    r = renderer(kind="transactional", templates={"en": "{{ greeting }} " + "x" * 1500})
    with pytest.raises(TemplateError, match="above the limit of 10"):
        r.render(person(first_name="Ayşe"), key())  # ş makes it UCS-2: 23 segments


# --- size ---------------------------------------------------------------------------


def test_rendered_size_matches_text():
    from dagster_project.activation.encoding import measure

    en = renderer().render(person(), key())
    assert en.size == measure(en.text)
    assert (en.encoding, en.segments) == ("GSM-7", 1)
    # A Turkish name is enough to switch the whole message to UCS-2.
    tr = renderer().render(person(first_name="Ayşe", language="tr"), key())
    assert tr.encoding == "UCS-2"
    assert tr.units == len(tr.text)
    assert tr.segments == 2


# --- properties ---------------------------------------------------------------------

_RENDERER = renderer()
_DIRECT = renderer(templates={"en": "Hi {{ first_name }}, sale  today. {{ first_name }}!"})


@given(
    first_name=st.one_of(st.none(), st.text(max_size=40)),
    language=st.sampled_from([None, "en", "de", "tr", "fr", "DE-at"]),
    age_band=st.sampled_from([None, "under_18", "18-24", "25-34", "35-44", "45-54", "65+"]),
)
def test_rendering_never_leaves_a_gap(first_name, language, age_band):
    recipient = person(first_name=first_name, language=language, age_band=age_band)
    for r in (_RENDERER, _DIRECT):
        message = r.render(recipient, key())
        assert "Hi ," not in message.text
        assert "  " not in message.text
        assert message.text.count(FOOTERS[message.language]) == 1
        assert message.text.count("\n") == 1
