"""Message templates: validation, personalization, opt-out footers and tracked links.

Owns how one campaign template becomes the text one recipient receives. Pure: no
Dagster, no DuckDB; the plan asset hands in plain recipient mappings.

Templates are Jinja2, rendered in ``ImmutableSandboxedEnvironment`` with strict
undefined names and no autoescaping (SMS is plain text). A template may use only
these tokens (``TOKENS``), all taken from ``marts.dim_sms_audience``:

``greeting``
    Localized greeting with the first name, or a neutral one without it: "Hi Anna"
    / "Hi there", "Hallo Anna" / "Hallo" (German informal), "Guten Tag Anna" /
    "Guten Tag" (German formal), "Selam Ayşe" / "Selam" (Turkish informal),
    "Merhaba Ayşe" / "Merhaba" (Turkish formal). No trailing punctuation: write
    ``{{ greeting }}, ...`` or ``{{ greeting }}! ...``.
``first_name``
    The cleaned first name, ``""`` when unknown. Prefer ``greeting``, or guard it
    with ``{% if first_name %}``.
``formal``
    ``True`` when the recipient is addressed formally, for the body's pronouns:
    ``{{ 'Sie' if formal else 'du' }}``, ``{{ 'siz' if formal else 'sen' }}``.
``language``, ``country``, ``age_band``
    The language of the template being rendered, the ISO country (``""`` when
    unknown) and the age band (``"unknown"`` when missing).
``link('https://...')``
    A tracked short link, ``<link_base_url>/c/<token>``. The argument must be a
    literal http or https URL, so every target is known when the file is loaded.

Address rule, first-name fallbacks and footers: ``personalization.py``. After
rendering, runs of spaces collapse and a space before punctuation goes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.exceptions import TemplateError as JinjaTemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .encoding import MAX_SEGMENTS, Encoding, SmsSize, measure
from .personalization import FOOTERS as FOOTERS
from .personalization import OPT_OUT_WORDS as OPT_OUT_WORDS
from .personalization import SUPPORTED_LANGUAGES as SUPPORTED_LANGUAGES
from .personalization import (
    _contains,
    clean_first_name,
    greeting,
    is_formal,
    normalize_language,
)

Kind = Literal["marketing", "transactional"]

TOKENS = frozenset({"greeting", "first_name", "formal", "language", "country", "age_band", "link"})

_TOKEN_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
TOKEN_LENGTH = 12  # 62**12 is about 2**71: no collision in any realistic link table

# Longest string a template may build by repetition ('x' * n); carriers stop
# concatenating around 1,600 characters anyway.
_MAX_TEXT = 1600


class TemplateError(ValueError):
    """A template that cannot be used; the message names the template, line and problem."""

    def __init__(self, message: str, *, name: str = "template", lineno: int | None = None):
        where = f"{name}, line {lineno}" if lineno else name
        super().__init__(f"{where}: {message}")
        self.name = name
        self.lineno = lineno


@dataclass(frozen=True)
class TrackedLink:
    token: str
    target_url: str


@dataclass(frozen=True)
class RenderedMessage:
    text: str
    language: str
    formal: bool
    encoding: Encoding
    units: int
    segments: int
    links: tuple[TrackedLink, ...]

    @property
    def size(self) -> SmsSize:
        return SmsSize(self.encoding, self.units, self.segments)


class _SmsSandbox(ImmutableSandboxedEnvironment):
    """The sandbox, minus the arithmetic that can exhaust memory or time."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        if operator == "**":
            raise SecurityError("the power operator is not allowed in SMS templates")
        for seq, times in ((left, right), (right, left)):
            if (
                isinstance(seq, str | list | tuple)
                and isinstance(times, int)
                and len(seq) * times > _MAX_TEXT
            ):
                raise SecurityError(f"repetition longer than {_MAX_TEXT} characters")
        return super().call_binop(context, operator, left, right)


def _environment() -> _SmsSandbox:
    env = _SmsSandbox(undefined=StrictUndefined, autoescape=False)
    # range, lipsum, dict, cycler, joiner, namespace: nothing an SMS needs.
    env.globals.clear()
    return env


_ENV = _environment()


# --- links -------------------------------------------------------------------------


def link_token(key: str, target_url: str, secret: str) -> str:
    """Short URL-safe token from HMAC-SHA256(secret, key, url): stable across reruns,
    different per message key (so per recipient) and per target, unguessable without
    the secret."""
    message = f"{key}\x00{target_url}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    number = int.from_bytes(digest[:16], "big") % len(_TOKEN_ALPHABET) ** TOKEN_LENGTH
    chars = []
    for _ in range(TOKEN_LENGTH):
        number, digit = divmod(number, len(_TOKEN_ALPHABET))
        chars.append(_TOKEN_ALPHABET[digit])
    return "".join(chars)


def _url_problem(url: object) -> str | None:
    if not isinstance(url, str):
        return "link() needs a URL string"
    if not url or any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in url):
        return f"link target {url!r} is empty or contains whitespace"
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        return f"link target {url!r} is not an http or https URL"
    if not parts.hostname:
        return f"link target {url!r} has no host"
    return None


# --- validation ---------------------------------------------------------------------


def _first_lineno(ast: nodes.Template, name: str) -> int | None:
    for node in ast.find_all(nodes.Name):
        if node.name == name:
            return node.lineno
    return None


def _check_ast(ast: nodes.Template, name: str, extra: frozenset[str] = frozenset()) -> None:
    def fail(message: str, node: nodes.Node) -> None:
        raise TemplateError(message, name=name, lineno=node.lineno)

    for node in ast.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        fail(f"{{% {type(node).__name__.lower()} %}} is not allowed in SMS templates", node)
    for node in ast.find_all(nodes.Pow):
        fail("the power operator ** is not allowed in SMS templates", node)
    for node in ast.find_all(nodes.Getattr):
        if node.attr.startswith("_"):
            fail(f"access to the internal attribute {node.attr!r} is not allowed", node)
    for node in ast.find_all(nodes.Getitem):
        if isinstance(node.arg, nodes.Const) and str(node.arg.value).startswith("_"):
            fail(f"access to the internal attribute {node.arg.value!r} is not allowed", node)

    unknown = sorted(meta.find_undeclared_variables(ast) - TOKENS - extra)
    if unknown:
        allowed = ", ".join(sorted(TOKENS | extra))
        token = unknown[0]
        raise TemplateError(
            f"unknown token {token!r} (allowed: {allowed})",
            name=name,
            lineno=_first_lineno(ast, token),
        )

    link_callees = set()
    for call in ast.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name == "link":
            link_callees.add(id(call.node))
            args_ok = (
                len(call.args) == 1
                and not call.kwargs
                and call.dyn_args is None
                and call.dyn_kwargs is None
                and isinstance(call.args[0], nodes.Const)
            )
            if not args_ok:
                fail(
                    "link() takes exactly one literal URL, like link('https://shop.example/')", call
                )
            problem = _url_problem(call.args[0].value)
            if problem:
                fail(problem, call)
    for node in ast.find_all(nodes.Name):
        if node.name == "link" and id(node) not in link_callees:
            fail("link must be called: {{ link('https://...') }}", node)


# A few recipients every template must render for, covering each fallback path.
_TRIAL_CONTEXTS = [
    {"first_name": first, "formal": formal, "age_band": band}
    for first in ("Anna", "")
    for formal, band in ((False, "25-34"), (True, "unknown"))
]


def _compile(text: str, name: str, extra: frozenset[str] = frozenset()):
    if not isinstance(text, str):
        raise TemplateError("template must be text", name=name)
    try:
        ast = _ENV.parse(text)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"syntax error: {exc.message}", name=name, lineno=exc.lineno) from exc
    try:
        _check_ast(ast, name, extra)
        template = _ENV.from_string(text)
    except TemplateSyntaxError as exc:  # raised when compiling: an unknown filter or test
        raise TemplateError(str(exc.message), name=name, lineno=exc.lineno) from exc
    for trial in _TRIAL_CONTEXTS:
        context = {
            "language": "en",
            "country": "",
            "greeting": greeting("en", trial["first_name"] or None, False),
            "link": lambda url: "https://t.example/c/" + "x" * TOKEN_LENGTH,
            **{token: "X-1234" for token in extra},
            **trial,
        }
        try:
            rendered = _tidy(template.render(context))
        except (JinjaTemplateError, ArithmeticError, TypeError, ValueError) as exc:
            raise TemplateError(f"fails to render: {exc}", name=name) from exc
        if not rendered:
            who = "with a first name" if trial["first_name"] else "without a first name"
            raise TemplateError(f"renders an empty message {who}", name=name)
    return template


def validate_template(
    text: str, *, name: str = "template", extra_tokens: frozenset[str] = frozenset()
) -> None:
    """Raise ``TemplateError`` naming the line and problem: a syntax error, an unknown
    token, a link that is not a literal http(s) URL, an unsafe construct (includes,
    imports, internal attributes, ``**``), or a template that fails to render or
    renders empty for a sample recipient. ``name`` prefixes the message, for example
    ``"campaigns/winback.yml: templates.de"``. ``extra_tokens`` are allowed besides
    ``TOKENS`` (a journey's invoice reminders: ``invoice_number``, ``amount_due``, ...).
    """
    _compile(text, name, frozenset(extra_tokens))


# --- rendering ----------------------------------------------------------------------

_SPACES = re.compile(r"[ \t]+")
_SPACE_BEFORE_PUNCTUATION = re.compile(r" +([,.!?;:])")
_BLANK_LINES = re.compile(r"\n{3,}")


def _tidy(text: str) -> str:
    """Collapse the gaps a missing value leaves: double spaces, " ,", stacked blank lines."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = [_SPACE_BEFORE_PUNCTUATION.sub(r"\1", _SPACES.sub(" ", line)).strip() for line in lines]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


class MessageRenderer:
    """Renders one campaign's templates (language code -> template) for one recipient
    at a time. Templates are validated and compiled once, here.

    ``link_secret`` keys the link tokens; take it from the environment (``EnvVar``),
    never from a campaign file. ``link_base_url`` is where the webhook service
    resolves ``/c/<token>``.
    """

    def __init__(
        self,
        templates: Mapping[str, str],
        fallback_language: str,
        kind: Kind,
        link_base_url: str,
        link_secret: str,
        *,
        name: str = "template",
        extra_tokens: frozenset[str] = frozenset(),
    ):
        if kind not in ("marketing", "transactional"):
            raise TemplateError(f"kind must be marketing or transactional, not {kind!r}", name=name)
        if not templates:
            raise TemplateError("no templates given", name=name)
        compiled = {}
        for raw_language, text in templates.items():
            language = normalize_language(raw_language)
            if language not in SUPPORTED_LANGUAGES:
                raise TemplateError(
                    f"language {raw_language!r} has no greetings or opt-out footer "
                    f"(supported: {', '.join(SUPPORTED_LANGUAGES)})",
                    name=name,
                )
            if language in compiled:
                raise TemplateError(f"two templates for language {language!r}", name=name)
            compiled[language] = _compile(text, f"{name}[{raw_language}]", extra_tokens)
        fallback = normalize_language(fallback_language)
        if fallback not in compiled:
            raise TemplateError(
                f"fallback language {fallback_language!r} has no template "
                f"(templates: {', '.join(sorted(compiled))})",
                name=name,
            )
        base_problem = _url_problem(link_base_url)
        if base_problem:
            raise TemplateError(f"link_base_url: {base_problem}", name=name)
        if not link_secret:
            raise TemplateError("link_secret is empty", name=name)

        self.kind: Kind = kind
        self.fallback_language: str = fallback
        self.languages = tuple(sorted(compiled))
        self._name = name
        self._templates = compiled
        self._base_url = link_base_url.rstrip("/")
        self._secret = link_secret
        self._extra = frozenset(extra_tokens)

    def language_for(self, recipient_language: object) -> str:
        """The template language used for a recipient's stated language."""
        language = normalize_language(recipient_language)
        return language if language in self._templates else self.fallback_language

    def render(self, recipient: Mapping[str, Any], key: str) -> RenderedMessage:
        """The message for one recipient. ``key`` is the message's idempotency key
        (campaign|customer|day|variant); link tokens derive from it, so a rerun
        renders the same text and the same links."""
        language = self.language_for(recipient.get("language"))
        age_band = recipient.get("age_band")
        formal = is_formal(language, age_band)
        first_name = clean_first_name(recipient.get("first_name"))
        country = recipient.get("country")
        links: dict[str, TrackedLink] = {}

        def link(url: str) -> str:
            problem = _url_problem(url)
            if problem:  # validation already refuses these; kept for direct callers
                raise TemplateError(problem, name=self._name)
            tracked = links.get(url)
            if tracked is None:
                tracked = links[url] = TrackedLink(link_token(key, url, self._secret), url)
            return f"{self._base_url}/c/{tracked.token}"

        context: dict[str, Any] = {
            "greeting": greeting(language, first_name, formal),
            "first_name": first_name or "",
            "formal": formal,
            "language": language,
            "country": country.strip().upper() if isinstance(country, str) else "",
            "age_band": age_band if isinstance(age_band, str) and age_band else "unknown",
            "link": link,
            # the extra tokens this renderer allows, from the recipient's ``extra`` mapping
            **{t: str((recipient.get("extra") or {}).get(t, "")) for t in self._extra},
        }
        name = f"{self._name}[{language}]"
        try:
            text = _tidy(self._templates[language].render(context))
        except (JinjaTemplateError, ArithmeticError, TypeError, ValueError) as exc:
            if isinstance(exc, TemplateError):
                raise
            raise TemplateError(f"fails to render: {exc}", name=name) from exc
        if not text:
            raise TemplateError("renders an empty message", name=name)
        if self.kind == "marketing" and not _contains(text, FOOTERS[language]):
            text = f"{text}\n{FOOTERS[language]}"
        size = measure(text)
        if size.segments > MAX_SEGMENTS:
            raise TemplateError(
                f"message is {size.segments} segments, above the limit of {MAX_SEGMENTS}",
                name=name,
            )
        return RenderedMessage(
            text=text,
            language=language,
            formal=formal,
            encoding=size.encoding,
            units=size.units,
            segments=size.segments,
            links=tuple(links.values()),
        )
