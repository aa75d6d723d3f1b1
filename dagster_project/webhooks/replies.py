"""The transactional replies to a keyword, per language (``campaigns/settings/replies.yml``).

Loaded and validated once when the receiver starts; an error names the file and
the field. Which language answers: a localized keyword's own (``IPTAL`` gets
Turkish); a universal word (``STOP``, which the German and Turkish footers
advertise too) gets the language of the phone's country when there is a reply
text in it (+49 German, +90 Turkish), else English. The receiver never opens
the warehouse, so a customer's stated language is not known here.
"""

from __future__ import annotations

import string
from pathlib import Path

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dagster_project.contracts.consent_keywords import ACTIONS, OPT_OUT_WORDS, UNIVERSAL_LANGUAGE
from dagster_project.lib.yaml_files import read_mapping, validate

from .keywords import fold

# Countries whose language has its own keywords and replies.
COUNTRY_LANGUAGE = {"DE": "de", "AT": "de", "LI": "de", "TR": "tr"}

MAX_REPLY_LENGTH = 320  # two GSM-7 segments


class RepliesError(ValueError):
    """replies.yml is missing a text or has a bad one; the message names file and field."""


class LanguageReplies(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    help: str = Field(min_length=1, max_length=MAX_REPLY_LENGTH)
    opt_out: str = Field(min_length=1, max_length=MAX_REPLY_LENGTH)
    opt_in: str = Field(min_length=1, max_length=MAX_REPLY_LENGTH)

    @field_validator("help", "opt_out", "opt_in")
    @classmethod
    def _only_sender_placeholder(cls, text: str) -> str:
        for _, name, spec, conversion in string.Formatter().parse(text):
            if name is not None and (name != "sender" or spec or conversion):
                raise ValueError(f"unknown placeholder {{{name}}}: only {{sender}} is replaced")
        return text


class Replies(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sender_name: str = Field(min_length=1, max_length=40)
    languages: dict[str, LanguageReplies]

    @model_validator(mode="after")
    def _every_keyword_language_answered(self) -> Replies:
        missing = sorted(set(OPT_OUT_WORDS) - set(self.languages))
        if missing:
            raise ValueError(f"languages: no replies for {', '.join(missing)}")
        for language, texts in self.languages.items():
            words = {fold(w) for w in OPT_OUT_WORDS.get(language, OPT_OUT_WORDS["en"])}
            if not any(fold(token) in words for token in texts.help.split()):
                raise ValueError(
                    f"languages.{language}.help: must tell how to opt out "
                    f"(name one of {', '.join(OPT_OUT_WORDS.get(language, ()))})"
                )
        return self

    def text(self, action: str | None, language: str | None) -> str | None:
        """The reply to an action in a language (English when there is none); None for a
        free reply."""
        if action not in ACTIONS:
            return None
        texts = self.languages.get(language or "") or self.languages[UNIVERSAL_LANGUAGE]
        return getattr(texts, action).format(sender=self.sender_name)


def reply_language(keyword_language: str | None, phone: str | None) -> str:
    """A localized keyword's language, else the phone's country's, else English."""
    if keyword_language and keyword_language != UNIVERSAL_LANGUAGE:
        return keyword_language
    if phone:
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(phone, None))
        except phonenumbers.NumberParseException:
            region = None
        if region in COUNTRY_LANGUAGE:
            return COUNTRY_LANGUAGE[region]
    return UNIVERSAL_LANGUAGE


def load_replies(path: Path) -> Replies:
    data = read_mapping(path, RepliesError, "a mapping with sender_name and languages")
    return validate(Replies, data, path, RepliesError)
