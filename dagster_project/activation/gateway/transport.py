"""The gateway client's connection layer, under one ``httpx.AsyncClient``.

``AiohttpTransport`` (the default, ``GatewayResource(transport="aiohttp")``):
aiohttp's connection pool under httpx's API, its errors mapped to the httpx
ones the sender classifies. ``ShardedTransport`` (``transport="httpcore"``):
httpx's own httpcore pools, several small ones. ``GatewayClient``: the
``httpx.AsyncClient`` over either, keeping no cookies.

httpcore's connection pool scans every connection (and asks each socket, through
anyio, whether it is readable) several times per request, so its CPU cost per
request grows with the pool (32 connections in one pool against 8: see
bench/README.md). Several pools of at most
``shard_size`` connections each, with every request going to the least busy
one, keep the scan short while the client still holds ``concurrency``
connections. It is still one ``httpx.AsyncClient``; only the pool is split.
"""

from __future__ import annotations

import re

import aiohttp
import httpx
import httpx_aiohttp
import yarl


class _Released(httpx.AsyncByteStream):
    """A response body that gives its shard back when closed."""

    def __init__(self, stream: httpx.AsyncByteStream, release) -> None:
        self._stream = stream
        self._release = release

    async def __aiter__(self):
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._release is not None:
                self._release()
                self._release = None


class ShardedTransport(httpx.AsyncBaseTransport):
    def __init__(self, concurrency: int, *, shard_size: int = 8, **transport_kw) -> None:
        shards = max(1, -(-concurrency // shard_size))
        per = -(-concurrency // shards)
        limits = httpx.Limits(max_connections=per, max_keepalive_connections=per)
        self._shards = [
            httpx.AsyncHTTPTransport(limits=limits, **transport_kw) for _ in range(shards)
        ]
        self._busy = [0] * shards

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        i = min(range(len(self._busy)), key=self._busy.__getitem__)
        self._busy[i] += 1

        def release() -> None:
            self._busy[i] -= 1

        try:
            response = await self._shards[i].handle_async_request(request)
        except BaseException:
            release()
            raise
        response.stream = _Released(response.stream, release)
        return response

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()


class AiohttpTransport(httpx_aiohttp.AiohttpTransport):
    """httpx's API over aiohttp's connection pool (the gateway client's default).

    httpcore spends about 0.7 ms of CPU per request on its connection layer
    (httpx issue #3215); aiohttp's pool and C parser a fraction of that. The
    client stays an ``httpx.AsyncClient`` (adapters build ``httpx.Request``s and
    read ``httpx.Response``s); only the connection layer changes. Three things
    differ from ``httpx_aiohttp.AiohttpTransport`` and matter to the sender:

    * errors: aiohttp's exceptions become the httpx ones the sender classifies
      (``httpx_error``): a dropped connection is ``RemoteProtocolError`` (may
      have been received), not the ``ConnectTimeout`` (never sent) the library
      maps every ``ClientConnectionError`` to;
    * no silent resend: aiohttp resends a GET once when a kept-alive connection
      drops mid-request; a Kannel sendsms is a GET, and the resend could deliver
      the message twice. Turned off as aiohttp's own test client does;
    * the URL goes over as httpx encoded it (Kannel's ``dlr-url`` escapes must
      arrive as sent, not re-quoted).

    Timeouts: httpx's ``connect`` / ``pool`` become aiohttp's ``sock_connect`` /
    ``connect`` (waiting for a pooled connection plus connecting; both raise
    ``ConnectTimeout``: not sent), ``read`` its ``sock_read`` (``ReadTimeout``).
    aiohttp has no write timeout; a request here is a few hundred bytes.
    ``concurrency`` caps the connections (``TCPConnector(limit=...)``).
    """

    def __init__(self, concurrency: int, **kw) -> None:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        kw.setdefault("trust_env", False)  # no proxy or CA bundle from the environment
        super().__init__(limits=limits, **kw)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        session = self.get_client()
        if not hasattr(session, "_retry_connection"):  # pragma: no cover - aiohttp changed
            raise RuntimeError("aiohttp no longer has ClientSession._retry_connection")
        session._retry_connection = False
        self.client = self._session = session
        return session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session or self._open()
        timeout = request.extensions.get("timeout", {})
        try:
            data = request.content or None
        except httpx.RequestNotRead:  # a streamed body (the gateways send none)
            data = request.stream
            request.headers.pop("transfer-encoding", None)
        try:
            async with session.request(
                request.method,
                yarl.URL(str(request.url), encoded=True),
                # plain pairs: aiohttp walking httpx.Headers as a mapping costs ~0.1 ms
                headers=request.headers.multi_items(),
                data=data,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=aiohttp.ClientTimeout(
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                    connect=timeout.get("pool"),
                ),
            ) as response:
                # Read whole here (a gateway answers a few hundred bytes): the connection
                # goes back to the pool at once, and a body that breaks off is mapped
                # like any other error. httpx still decodes any Content-Encoding.
                body = await response.read()
        except Exception as exc:
            raise httpx_error(exc) from exc
        extensions = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            content=body,
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _Discard(httpx.Cookies):
    """A cookie jar that keeps nothing."""

    def extract_cookies(self, response: httpx.Response) -> None:
        pass


class GatewayClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` that keeps no cookies.

    A gateway call is stateless (Twilio and Kannel authenticate every request),
    and a cookie a provider sets has no business riding along on the next
    message; httpx also spends about 0.1 ms of CPU per response wrapping it for
    the standard library's cookie jar, even when there is no cookie.
    """

    def __init__(self, **kw) -> None:
        if kw.get("cookies"):
            raise ValueError("a gateway client keeps no cookies")
        super().__init__(**kw)
        self._discard = _Discard()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._discard

    @cookies.setter
    def cookies(self, cookies) -> None:
        if cookies:
            raise ValueError("a gateway client keeps no cookies")


def httpx_error(exc: Exception) -> Exception:
    """The httpx exception the sender must see for an aiohttp (or socket) error.

    What the sender needs to know is whether the request may have reached the
    gateway: ``ConnectError`` / ``ConnectTimeout`` / ``UnsupportedProtocol``
    say it certainly did not (retried); every other ``TransportError`` says it
    may have (not resent without an idempotency key). Anything unrecognised from
    aiohttp or the socket is therefore mapped to a "may have" error; an
    exception that is neither (a bug, a cancellation) is returned unchanged.

    aiohttp puts the request URL in some messages (a connect timeout, an
    unparsable answer); a Kannel sendsms URL carries the password and the phone
    in its query, and the message ends up in the ledger and the logs, so queries
    are cut from it.
    """
    message = _QUERY.sub(r"\1", str(exc)) or type(exc).__name__
    for kind, target in _ERRORS:
        if isinstance(exc, kind):
            return target(message)
    return exc


_QUERY = re.compile(r"""(\w+://[^\s?#'"]*)[?#][^\s'"]*""")

# Most specific first: the first match wins.
_ERRORS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    # waiting for a pooled connection, or connecting, took too long: nothing sent
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    # no answer within the read timeout: the request went out
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    # refused, unreachable, DNS, TLS handshake: nothing sent
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
    # the connection dropped or broke after the request was (maybe) written
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # an unparsable answer
    (aiohttp.ClientOSError, httpx.ReadError),
    (aiohttp.ClientConnectionResetError, httpx.ReadError),
    (aiohttp.ClientError, httpx.RemoteProtocolError),
    (TimeoutError, httpx.ReadTimeout),
    (OSError, httpx.ReadError),
)
