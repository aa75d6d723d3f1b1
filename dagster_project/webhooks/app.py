"""The receiver's HTTP endpoints (Starlette): ``create_app(settings)``.

Endpoints, authentication and answers are ``docs/outcomes.md``'s. Every
accepted callback becomes one landing-log line, appended (fsync'd) before the
answer; when the append fails the answer is 500, so the provider retries and
nothing is acknowledged that is not on disk. A refused request (bad secret,
bad signature, unknown link) writes nothing.

* Twilio: ``X-Twilio-Signature`` over ``SMS_WEBHOOK_PUBLIC_URL`` + path + query
  when that is set (behind a proxy the request's own URL is not the one Twilio
  signed), else the request's URL. Without ``TWILIO_AUTH_TOKEN`` both Twilio
  endpoints answer 403 and log why.
* Kannel and the sandbox: the webhook secret is a path segment, compared in
  constant time.
* ``/c/<token>``: a redirect only to the target the link registry holds for
  the token; nothing from the request (query, further path) is ever a target.
  ``HEAD`` (link previews) answers the same redirect and records no click.

Logs: one line per event with the phone masked (``+49••••••••67``), never a
reply's text; the access log (logger ``dagster_project.webhooks.access``)
shows the path with the secret and query left out.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dagster_project.contracts import events
from dagster_project.contracts.eventlog import EventLog
from dagster_project.contracts.kannel_keys import unquote_dlr_key
from dagster_project.contracts.tracked_links import LinkRegistry
from dagster_project.lib.phones import mask_phone

from .config import WebhookSettings
from .keywords import classify
from .replies import reply_language
from .signatures import is_valid_signature

logger = logging.getLogger("dagster_project.webhooks")
access_logger = logging.getLogger("dagster_project.webhooks.access")

FORM = "application/x-www-form-urlencoded"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


class _Refused(Exception):
    """A request answered without touching the log."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.response = PlainTextResponse(message, status_code=status)


def twiml(reply: str | None) -> str:
    """The TwiML answer to an inbound message: ``<Response/>`` or one ``<Message>``."""
    if not reply:
        return EMPTY_TWIML
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Message>{escape(reply)}</Message></Response>"
    )


class Receiver:
    """The endpoints over one landing log, link registry and set of settings."""

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings
        self.log = EventLog(settings.events_dir)
        self.links = LinkRegistry(settings.links_path)

    # --- shared steps ---------------------------------------------------------------

    async def _persist(self, event: dict) -> Response | None:
        """Append the event; None when it is on disk, else the 500 to answer."""
        try:
            await run_in_threadpool(self.log.append, event)
        except OSError:
            logger.exception(
                "could not write %s %s event %s: answering 500 so the sender retries",
                event["source"], event["event_type"], event["event_id"],
            )  # fmt: skip
            return PlainTextResponse("event not stored", status_code=500)
        return None

    async def _body(self, request: Request) -> bytes:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise _Refused(413, "request body too large")
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _Refused(413, "request body too large")
                chunks.append(chunk)
        except ClientDisconnect:
            # Nothing was written and nobody is left to answer; the sender retries.
            logger.info(
                "%s: client disconnected before the body was complete (400)", _route_name(request)
            )
            raise _Refused(400, "client disconnected mid-body") from None
        return b"".join(chunks)

    def _check_secret(self, request: Request) -> None:
        given = request.path_params.get("secret", "")
        if not hmac.compare_digest(given.encode(), self.settings.secret.encode()):
            logger.warning("refused %s: wrong webhook secret (403)", _route_name(request))
            raise _Refused(403, "forbidden")

    async def _json(self, request: Request) -> dict:
        try:
            body = json.loads(await self._body(request))
        except ValueError as exc:
            raise _Refused(400, "body is not JSON") from exc
        if not isinstance(body, dict):
            raise _Refused(400, "body is not a JSON object")
        return body

    async def _twilio_params(self, request: Request) -> dict[str, str]:
        """The form of a request Twilio signed, else ``_Refused`` (403 and nothing read)."""
        token = self.settings.twilio_auth_token
        if not token:
            logger.error(
                "refused %s: TWILIO_AUTH_TOKEN is not set, so no Twilio signature can be "
                "checked (403); set it in the receiver's environment",
                request.url.path,
            )
            raise _Refused(403, "forbidden")
        content_type = request.headers.get("content-type", FORM).split(";")[0].strip().lower()
        if content_type != FORM:
            raise _Refused(415, f"expected {FORM}")
        try:
            text = (await self._body(request)).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Refused(400, "body is not UTF-8") from exc
        pairs = parse_qsl(text, keep_blank_values=True)
        url = self.signed_url(request)
        if not is_valid_signature(token, url, pairs, request.headers.get("x-twilio-signature")):
            logger.warning(
                "refused %s: missing or bad X-Twilio-Signature for %s (403)",
                request.url.path,
                url.split("?", 1)[0],
            )
            raise _Refused(403, "forbidden")
        params: dict[str, str] = {}
        for name, value in pairs:
            params.setdefault(name, value)
        return params

    def signed_url(self, request: Request) -> str:
        """The URL Twilio signed: the public base + path + query when configured."""
        base = self.settings.public_url
        if not base:
            return str(request.url)
        scope = request.scope
        path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string") or b""
        url = base + path.decode("latin-1")
        return f"{url}?{query.decode('latin-1')}" if query else url

    def _reply(self, text: str | None, phone: str | None) -> tuple:
        found = classify(text)
        reply = self.settings.replies.text(found.action, reply_language(found.language, phone))
        return found, reply

    # --- Twilio ------------------------------------------------------------------------

    async def twilio_status(self, request: Request) -> Response:
        p = await self._twilio_params(request)
        provider_status = p.get("MessageStatus") or p.get("SmsStatus")
        event = events.status_event(
            "twilio",
            message_key=request.query_params.get("key"),
            provider_message_id=p.get("MessageSid") or p.get("SmsSid"),
            status=events.TWILIO_STATUS.get((provider_status or "").lower()),
            provider_status=provider_status,
            error_code=p.get("ErrorCode"),
            phone=p.get("To"),
            our_number=p.get("From"),
        )
        return await self._acknowledge(event, Response(status_code=204))

    async def twilio_inbound(self, request: Request) -> Response:
        p = await self._twilio_params(request)
        phone, text = p.get("From"), p.get("Body")
        found, reply = self._reply(text, phone)
        event = events.inbound_event(
            "twilio",
            provider_message_id=p.get("MessageSid") or p.get("SmsMessageSid") or p.get("SmsSid"),
            phone=phone,
            our_number=p.get("To"),
            text=text,
            action=found.action,
            keyword=found.keyword,
            language=found.language,
            reply_text=reply,
        )
        answer = Response(twiml(reply), media_type="text/xml; charset=utf-8")
        return await self._acknowledge(event, answer)

    # --- Kannel ------------------------------------------------------------------------

    async def kannel_dlr(self, request: Request) -> Response:
        self._check_secret(request)
        q = request.query_params
        try:
            key = unquote_dlr_key(q["key"]) if q.get("key") else None
        except ValueError as exc:
            raise _Refused(400, "key is not a dlr key") from exc
        code = (q.get("status") or "").strip()
        status = events.KANNEL_STATUS.get(code)
        event = events.status_event(
            "kannel",
            message_key=key,
            provider_message_id=q.get("smsc_id"),
            status=status,
            provider_status=code or None,
            error_code=q.get("answer") if status in ("undelivered", "failed") else None,
            occurred_at=events.from_unix(q.get("at")),
        )
        return await self._acknowledge(event, PlainTextResponse("ok"))

    async def kannel_inbound(self, request: Request) -> Response:
        self._check_secret(request)
        q = request.query_params
        phone, text = q.get("from"), kannel_text(request.scope.get("query_string") or b"")
        found, reply = self._reply(text, phone)
        event = events.inbound_event(
            "kannel",
            provider_message_id=q.get("id"),
            phone=phone,
            our_number=q.get("to"),
            text=text,
            action=found.action,
            keyword=found.keyword,
            language=found.language,
            reply_text=reply,
            occurred_at=events.from_kannel_time(q.get("at")),
        )
        # The body is the SMS Kannel sends back; empty sends none (omit-empty = true).
        return await self._acknowledge(event, PlainTextResponse(reply or ""))

    # --- sandbox -----------------------------------------------------------------------

    async def sandbox_status(self, request: Request) -> Response:
        self._check_secret(request)
        body = await self._json(request)
        provider_status = _text(body.get("status"))
        event = events.status_event(
            "sandbox",
            message_key=_text(body.get("key")),
            provider_message_id=_text(body.get("id")),
            status=provider_status,
            provider_status=provider_status,
            error_code=_text(body.get("error_code")),
            phone=_text(body.get("to")),
            our_number=_text(body.get("from")),
            occurred_at=events.from_iso(body.get("event_at")),
        )
        return await self._acknowledge(event, Response(status_code=204))

    async def sandbox_inbound(self, request: Request) -> Response:
        self._check_secret(request)
        body = await self._json(request)
        phone, text = _text(body.get("from")), _text(body.get("text"))
        found, reply = self._reply(text, phone)
        event = events.inbound_event(
            "sandbox",
            provider_message_id=_text(body.get("id")),
            phone=phone,
            our_number=_text(body.get("to")),
            text=text,
            action=found.action,
            keyword=found.keyword,
            language=found.language,
            reply_text=reply,
            occurred_at=events.from_iso(body.get("event_at")),
        )
        return await self._acknowledge(event, JSONResponse({"reply": reply}))

    # --- clicks and health -------------------------------------------------------------

    async def click(self, request: Request) -> Response:
        token = request.path_params["token"]
        found = await run_in_threadpool(self.links.lookup, token)
        if found is None:
            return PlainTextResponse("not found", status_code=404)
        message_key, target_url = found
        redirect = RedirectResponse(target_url, status_code=302)
        redirect.headers["Cache-Control"] = "no-store"  # every click reaches us
        if request.method == "HEAD":
            return redirect
        event = events.click_event(
            token=token,
            message_key=message_key,
            target_url=target_url,
            user_agent=request.headers.get("user-agent"),
            occurred_at=self._sandbox_click_time(request),
        )
        return await self._acknowledge(event, redirect)

    def _sandbox_click_time(self, request: Request) -> str | None:
        """The demo's recipients click on a replayed clock: with the webhook secret in
        ``X-Sandbox-Secret``, ``X-Sandbox-Occurred-At`` dates the click. A browser sends
        neither; a wrong secret is ignored (the click still counts, dated now)."""
        given = request.headers.get("x-sandbox-secret")
        if not given or not hmac.compare_digest(given.encode(), self.settings.secret.encode()):
            return None
        return events.from_iso(request.headers.get("x-sandbox-occurred-at"))

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def _acknowledge(self, event: dict, answer: Response) -> Response:
        failed = await self._persist(event)
        if failed is not None:
            return failed
        _log_event(event)
        return answer


def kannel_text(query_string: bytes) -> str | None:
    """The reply's text from a Kannel get-url query: ``text`` decoded with ``charset``
    (Kannel's ``%C``: UTF-8, or UTF-16BE for a UCS-2 message); UTF-8 when none is given."""
    fields: dict[str, bytes] = {}
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True,
                                 encoding="latin-1"):  # fmt: skip
        fields.setdefault(name, value.encode("latin-1"))  # the bytes, still undecoded
    raw = fields.get("text")
    if raw is None:
        return None
    charset = fields.get("charset", b"").decode("ascii", "replace").strip() or "utf-8"
    try:
        return raw.decode(charset, "replace")
    except LookupError:  # a charset Python does not know
        return raw.decode("utf-8", "replace")


def _text(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)


def _route_name(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "name", None) or "request"


def _log_event(event: dict) -> None:
    if event["event_type"] == "status":
        logger.info(
            "%s status %s (%s) key=%s phone=%s",
            event["source"], event["status"], event["provider_status"],
            event["message_key"], mask_phone(event["phone"]) or "-",
        )  # fmt: skip
    elif event["event_type"] == "inbound":
        logger.info(
            "%s inbound from %s: %s%s",
            event["source"], mask_phone(event["phone"]) or "-",
            event["action"] or "free reply",
            f" ({event['keyword']}, replied)" if event["reply_text"] else "",
        )  # fmt: skip
    else:
        logger.info("click %s key=%s", event["token"], event["message_key"])


def _guarded(handler):
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except _Refused as refused:
            return refused.response

    endpoint.__name__ = handler.__name__
    return endpoint


class AccessLog:
    """One access-log line per request: method, path with secrets and query left out,
    status, milliseconds. Phones travel in Kannel's query strings, so no query is logged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            access_logger.info(
                "%s %s %d %.1fms",
                scope["method"], redact_path(scope["path"]), status,
                (time.perf_counter() - started) * 1000,
            )  # fmt: skip


def redact_path(path: str) -> str:
    """``/kannel/dlr/<secret>`` -> ``/kannel/dlr/***``; ``/c/<token>`` keeps 4 characters."""
    parts = path.split("/")
    if len(parts) >= 4 and parts[1] == "kannel":
        parts[3] = "***"
    elif len(parts) >= 3 and parts[1] == "sandbox":
        parts[2] = "***"
    elif len(parts) >= 3 and parts[1] == "c":
        parts[2] = parts[2][:4] + "…"
    return "/".join(parts)


def create_app(settings: WebhookSettings) -> Starlette:
    """The receiver as an ASGI app, for uvicorn or Starlette's TestClient."""
    r = Receiver(settings)
    routes = [
        Route("/twilio/status", _guarded(r.twilio_status), methods=["POST"]),
        Route("/twilio/inbound", _guarded(r.twilio_inbound), methods=["POST"]),
        Route("/kannel/dlr/{secret}", _guarded(r.kannel_dlr), methods=["GET"]),
        Route("/kannel/inbound/{secret}", _guarded(r.kannel_inbound), methods=["GET"]),
        Route("/sandbox/{secret}/status", _guarded(r.sandbox_status), methods=["POST"]),
        Route("/sandbox/{secret}/inbound", _guarded(r.sandbox_inbound), methods=["POST"]),
        Route("/c/{token}", _guarded(r.click), methods=["GET", "HEAD"]),
        Route("/healthz", r.healthz, methods=["GET"]),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(AccessLog)])
    app.state.receiver = r
    return app
