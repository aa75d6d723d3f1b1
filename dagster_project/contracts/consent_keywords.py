"""The consent vocabulary: which reply words opt out, opt back in or ask for help.

One list shared by the two sides that must agree on it: message footers
(``activation/messages.py``) advertise words from ``OPT_OUT_WORDS``, and the
webhook receiver (``webhooks/keywords.py``) classifies replies with all three
tables. It lives outside both because neither may import the other.

Per language, each table lists every word that counts in it. The words the
compliance rules name (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE,
OPTOUT; START, UNSTOP, YES; HELP, INFO) count in every language, and each
language adds its own. Case, Turkish dotted/dotless I and diacritics are the
classifier's job: IPTAL and İPTAL are both listed only because phones type
either and a reader of this table should see both.

Choices, and why:

* German opt-out STOPP and ABMELDEN; help HILFE. No German opt-in word beyond
  START: ANMELDEN is one key from ABMELDEN on a German keyboard (B and N are
  neighbours), so a typo of "unsubscribe" would read as "subscribe me again".
  JA is left out because a bare "ja" answers whatever was asked last; opting
  back in must be explicit.
* Turkish opt-out RET (the refusal word Turkish commercial SMS customarily
  advertise), DUR, IPTAL; opt-in BASLA (BAŞLA); help YARDIM. EVET ("yes") is
  left out for the same reason as JA. YES itself stays universal because the
  compliance rules name it.
"""

from __future__ import annotations

from types import MappingProxyType

OPT_OUT = "opt_out"
OPT_IN = "opt_in"
HELP = "help"
ACTIONS = (OPT_OUT, OPT_IN, HELP)

UNIVERSAL_LANGUAGE = "en"

UNIVERSAL_OPT_OUT = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT")
UNIVERSAL_OPT_IN = ("START", "UNSTOP", "YES")
UNIVERSAL_HELP = ("HELP", "INFO")

OPT_OUT_WORDS: dict[str, tuple[str, ...]] = {
    "en": UNIVERSAL_OPT_OUT,
    "de": (*UNIVERSAL_OPT_OUT, "STOPP", "ABMELDEN"),
    "tr": (*UNIVERSAL_OPT_OUT, "RET", "DUR", "IPTAL", "İPTAL"),
}
OPT_IN_WORDS: dict[str, tuple[str, ...]] = {
    "en": UNIVERSAL_OPT_IN,
    "de": UNIVERSAL_OPT_IN,
    "tr": (*UNIVERSAL_OPT_IN, "BASLA", "BAŞLA"),
}
HELP_WORDS: dict[str, tuple[str, ...]] = {
    "en": UNIVERSAL_HELP,
    "de": (*UNIVERSAL_HELP, "HILFE"),
    "tr": (*UNIVERSAL_HELP, "YARDIM"),
}

WORDS_BY_ACTION = MappingProxyType({OPT_OUT: OPT_OUT_WORDS, OPT_IN: OPT_IN_WORDS, HELP: HELP_WORDS})
