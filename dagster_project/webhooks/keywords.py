"""A reply classified: opt-out, opt-in, help, or a free reply. Pure.

The whole message must be the keyword: ``"  stop. "``, ``"Stop!"``, ``"STOP ALL"``
and ``"opt-out"`` are keywords; ``"please don't stop"`` is a free reply. Before
comparing, the message is case-folded with Turkish's dotted and dotless I
mapped to I (``iptal``, ``İptal``, ``IPTAL`` are one word), stripped of
diacritics (``başla`` is ``BASLA``) and of every space, punctuation mark and
symbol (emoji included); digits and letters stay, so ``STOP2`` is no keyword.

The vocabulary is ``dagster_project/contracts/consent_keywords.py``, the list the
footers advertise from.
"""

from __future__ import annotations

import unicodedata
from typing import NamedTuple

from dagster_project.contracts.consent_keywords import UNIVERSAL_LANGUAGE, WORDS_BY_ACTION


class Classification(NamedTuple):
    action: str | None  # "opt_out" | "opt_in" | "help" | None (a free reply)
    keyword: str | None  # the canonical word, upper-case, diacritics folded ("IPTAL")
    language: str | None  # the keyword's language ("de", "tr"), "en" for universal words


FREE_REPLY = Classification(None, None, None)


def fold(text: str) -> str:
    """The comparable form of a message: upper case, no diacritics, letters and digits only."""
    # Turkish: İ (U+0130) and ı (U+0131) are I; str.upper() alone turns ı into I but
    # leaves İ, and lower() of İ is i + combining dot.
    text = text.replace("\u0130", "I").replace("\u0131", "I").upper()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(
        ch for ch in decomposed if unicodedata.category(ch)[0] in "LN" and not _is_mark(ch)
    )


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch).startswith("M")


def _build_index() -> dict[str, Classification]:
    index: dict[str, Classification] = {}
    for action, by_language in WORDS_BY_ACTION.items():
        universal = set(map(fold, by_language[UNIVERSAL_LANGUAGE]))
        for language, words in by_language.items():
            for word in words:
                key = fold(word)
                lang = UNIVERSAL_LANGUAGE if key in universal else language
                found = index.get(key)
                if found is not None and (found.action, found.language) != (action, lang):
                    raise ValueError(f"consent keyword {word!r} is both {found} and {action}")
                index[key] = Classification(action, key, lang)
    return index


_INDEX = _build_index()


def classify(text: str | None) -> Classification:
    """``(action, keyword, language)`` of a reply; ``(None, None, None)`` for a free reply."""
    if not text:
        return FREE_REPLY
    return _INDEX.get(fold(text), FREE_REPLY)


def keywords(action: str) -> dict[str, str]:
    """Every canonical keyword of one action, with its language (for tests and docs)."""
    return {c.keyword: c.language for c in _INDEX.values() if c.action == action}
