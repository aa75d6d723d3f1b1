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

Logs (``logs``): one line per event with the phone masked, never a reply's
text; an access log with the path's secret and the query left out.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from dagster_project.contracts import events
from dagster_project.contracts.eventlog import EventLog
from dagster_project.contracts.kannel_keys import unquote_dlr_key
from dagster_project.contracts.tracked_links import LinkRegistry

from .config import WebhookSettings
from .formats import json_text, kannel_text, twiml
from .keywords import classify
from .logs import AccessLog, log_event
from .replies import reply_language
from .signatures import is_valid_signature

logger = logging.getLogger("dagster_project.webhooks")

FORM = "application/x-www-form-urlencoded"


class _Refused(Exception):
    """A request answered without touching the log."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.response = PlainTextResponse(message, status_code=status)


@dataclass(frozen=True)
class Inbound:
    """An inbound SMS as a provider's callback carries it, before anything is decided."""

    provider_message_id: str | None
    phone: str | None
    our_number: str | None
    text: str | None
    occurred_at: str | None = None


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

    async def _inbound(
        self, source: str, sms: Inbound, answer: Callable[[str | None], Response]
    ) -> Response:
        """What every provider's inbound SMS goes through: the text classified (STOP,
        HELP, ...), the reply picked in the sender's language, the event stored, and the
        provider's acknowledgement built by ``answer(reply)``."""
        found = classify(sms.text)
        reply = self.settings.replies.text(found.action, reply_language(found.language, sms.phone))
        event = events.inbound_event(
            source,
            provider_message_id=sms.provider_message_id,
            phone=sms.phone,
            our_number=sms.our_number,
            text=sms.text,
            action=found.action,
            keyword=found.keyword,
            language=found.language,
            reply_text=reply,
            occurred_at=sms.occurred_at,
        )
        return await self._acknowledge(event, answer(reply))

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
        sms = Inbound(
            provider_message_id=p.get("MessageSid") or p.get("SmsMessageSid") or p.get("SmsSid"),
            phone=p.get("From"),
            our_number=p.get("To"),
            text=p.get("Body"),
        )
        return await self._inbound(
            "twilio",
            sms,
            lambda reply: Response(twiml(reply), media_type="text/xml; charset=utf-8"),
        )

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
        sms = Inbound(
            provider_message_id=q.get("id"),
            phone=q.get("from"),
            our_number=q.get("to"),
            text=kannel_text(request.scope.get("query_string") or b""),
            occurred_at=events.from_kannel_time(q.get("at")),
        )
        # The body is the SMS Kannel sends back; empty sends none (omit-empty = true).
        return await self._inbound("kannel", sms, lambda reply: PlainTextResponse(reply or ""))

    # --- sandbox -----------------------------------------------------------------------

    async def sandbox_status(self, request: Request) -> Response:
        self._check_secret(request)
        body = await self._json(request)
        provider_status = json_text(body.get("status"))
        event = events.status_event(
            "sandbox",
            message_key=json_text(body.get("key")),
            provider_message_id=json_text(body.get("id")),
            status=provider_status,
            provider_status=provider_status,
            error_code=json_text(body.get("error_code")),
            phone=json_text(body.get("to")),
            our_number=json_text(body.get("from")),
            occurred_at=events.from_iso(body.get("event_at")),
        )
        return await self._acknowledge(event, Response(status_code=204))

    async def sandbox_inbound(self, request: Request) -> Response:
        self._check_secret(request)
        body = await self._json(request)
        sms = Inbound(
            provider_message_id=json_text(body.get("id")),
            phone=json_text(body.get("from")),
            our_number=json_text(body.get("to")),
            text=json_text(body.get("text")),
            occurred_at=events.from_iso(body.get("event_at")),
        )
        return await self._inbound("sandbox", sms, lambda reply: JSONResponse({"reply": reply}))

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
        log_event(event)
        return answer


def _route_name(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "name", None) or "request"


def _guarded(handler):
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except _Refused as refused:
            return refused.response

    endpoint.__name__ = handler.__name__
    return endpoint


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
