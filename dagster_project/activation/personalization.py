"""Personalization: languages, the form of address, first names, greetings and footers.

Pure functions and tables; ``messages.py`` renders templates with them.

Address rule: English has one form (``formal`` is always False). German and
Turkish use the informal form (du / sen) for age bands under 35 (``under_18``,
``18-24``, ``25-34``) and the formal form (Sie / siz) for everyone else: 35 and
older, and an unknown age, because a wrong "du" offends more than a wrong "Sie".

Fallbacks: the template is chosen by the recipient's language, else the campaign's
fallback language. A first name that is blank, has no letters or is implausibly
long (over ``MAX_FIRST_NAME_LENGTH``) counts as unknown. After rendering, runs of
spaces collapse and a space before punctuation goes, so a template that writes
``Hi {{ first_name }},`` still never sends "Hi ," or a double space.

Marketing messages end with the localized opt-out footer (``FOOTERS``) unless the
text already contains it; transactional messages get none. A footer advertises only
words of ``OPT_OUT_WORDS`` (``dagster_project/contracts/consent_keywords.py``), the list the
webhook receiver classifies replies with.
"""

from __future__ import annotations

import re
import unicodedata

# The words a footer may advertise: the vocabulary the reply classifier uses too.
from dagster_project.contracts.consent_keywords import OPT_OUT_WORDS as OPT_OUT_WORDS

SUPPORTED_LANGUAGES = ("en", "de", "tr")

# Footers are written in GSM-7 on purpose (Turkish without ı/ş/ç, which GSM-7 lacks),
# so the footer alone never doubles a message's cost by forcing UCS-2. The German
# and Turkish wording avoids du/Sie and sen/siz so one footer fits both forms.
FOOTERS: dict[str, str] = {
    "en": "Reply STOP to opt out",
    "de": "Abmelden: STOP antworten",
    "tr": "SMS almamak icin RET yazin",
}

# (with a first name, without one), per language and formality.
GREETINGS: dict[str, dict[bool, tuple[str, str]]] = {
    "en": {False: ("Hi {name}", "Hi there")},
    "de": {False: ("Hallo {name}", "Hallo"), True: ("Guten Tag {name}", "Guten Tag")},
    "tr": {False: ("Selam {name}", "Selam"), True: ("Merhaba {name}", "Merhaba")},
}

INFORMAL_AGE_BANDS = frozenset({"under_18", "18-24", "25-34"})

MAX_FIRST_NAME_LENGTH = 30


def normalize_language(value: object) -> str | None:
    """``"de-AT"``, ``"DE"``, ``"de_DE"`` -> ``"de"``; anything not text -> ``None``."""
    if not isinstance(value, str):
        return None
    primary = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    return primary or None


def is_formal(language: str, age_band: object) -> bool:
    """Formal address (Sie / siz) unless the recipient is known to be under 35."""
    if len(GREETINGS.get(language, {})) < 2:
        return False
    return not (isinstance(age_band, str) and age_band.strip() in INFORMAL_AGE_BANDS)


def clean_first_name(value: object) -> str | None:
    """A first name fit to print, or ``None``: whitespace collapsed, control characters
    dropped (a name must not add lines to a message); blank, letterless, overlong or
    footer-bearing names count as unknown.
    """
    if not isinstance(value, str):
        return None
    # Line breaks and tabs become spaces; other control and format characters go.
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in value
        if ch.isspace() or not unicodedata.category(ch).startswith("C")
    )
    name = " ".join(kept.split())
    if not name or len(name) > MAX_FIRST_NAME_LENGTH or not any(ch.isalpha() for ch in name):
        return None
    # A "name" carrying the footer would make the footer look present and skip it.
    if any(_contains(name, text) for text in FOOTERS.values()):
        return None
    return name


def greeting(language: str, first_name: str | None, formal: bool) -> str:
    """The greeting token: with the name when there is one, else the neutral form."""
    forms = GREETINGS[language]
    with_name, without_name = forms.get(formal, forms[False])
    return with_name.format(name=first_name) if first_name else without_name


def footer(language: str) -> str:
    return FOOTERS[language]


def _contains(text: str, phrase: str) -> bool:
    return " ".join(phrase.split()).casefold() in " ".join(text.split()).casefold()
