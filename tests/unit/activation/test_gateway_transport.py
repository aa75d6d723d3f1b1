"""aiohttp's errors as the httpx errors the sender classifies (``transport.httpx_error``).

The sender retries what certainly never reached the gateway (``ConnectError``,
``ConnectTimeout``, ``UnsupportedProtocol``) and never resends, without an
idempotency key, what may have (every other ``httpx.TransportError``). A wrong
mapping here either sends a message twice or gives up on one that was never sent.
"""

from __future__ import annotations

import asyncio
import socket
from types import SimpleNamespace

import aiohttp
import httpx
import pytest
from aiohttp.client_reqrep import ConnectionKey

from dagster_project.activation.gateway import httpx_error
from dagster_project.activation.gateway.sender import _NOT_SENT

_KEY = ConnectionKey("127.0.0.1", 1, False, True, None, None, None)
_INFO = SimpleNamespace(real_url="http://127.0.0.1:1/")


def _connector_error(cls=aiohttp.ClientConnectorError):
    return cls(_KEY, OSError(111, "Connection refused"))


NOT_SENT = [
    (aiohttp.ConnectionTimeoutError("Connection timeout to host"), httpx.ConnectTimeout),
    (_connector_error(), httpx.ConnectError),
    (_connector_error(aiohttp.ClientConnectorDNSError), httpx.ConnectError),
    (aiohttp.ClientProxyConnectionError(_KEY, OSError(111, "refused")), httpx.ConnectError),
    (aiohttp.InvalidURL("http://["), httpx.UnsupportedProtocol),
    (aiohttp.NonHttpUrlClientError("ftp://x"), httpx.UnsupportedProtocol),
]

MAY_HAVE_ARRIVED = [
    (aiohttp.SocketTimeoutError("Timeout on reading data from socket"), httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError("timeout"), httpx.ReadTimeout),
    (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError("Response payload is not completed"), httpx.RemoteProtocolError),
    (
        aiohttp.ClientResponseError(_INFO, (), status=400, message="bad status line"),
        httpx.RemoteProtocolError,
    ),  # fmt: skip
    (aiohttp.ClientConnectionResetError("Connection reset by peer"), httpx.ReadError),
    (aiohttp.ClientOSError(32, "Broken pipe"), httpx.ReadError),
    (aiohttp.ClientConnectionError("Connection closed"), httpx.RemoteProtocolError),
    (aiohttp.ClientError("anything else from aiohttp"), httpx.RemoteProtocolError),
    (TimeoutError(), httpx.ReadTimeout),
    (ConnectionResetError(104, "reset"), httpx.ReadError),
    (socket.gaierror(-2, "Name or service not known"), httpx.ReadError),
]


@pytest.mark.parametrize(("exc", "expected"), NOT_SENT)
def test_errors_before_the_request_left_are_retried(exc, expected):
    mapped = httpx_error(exc)
    assert type(mapped) is expected
    assert isinstance(mapped, _NOT_SENT)


@pytest.mark.parametrize(("exc", "expected"), MAY_HAVE_ARRIVED)
def test_errors_after_the_request_may_have_arrived_are_never_blindly_resent(exc, expected):
    mapped = httpx_error(exc)
    assert type(mapped) is expected
    assert isinstance(mapped, httpx.TransportError)
    assert not isinstance(mapped, _NOT_SENT)


def test_the_message_is_kept_and_other_exceptions_pass_unchanged():
    assert "Connection refused" in str(httpx_error(_connector_error()))
    assert str(httpx_error(aiohttp.ServerDisconnectedError())) == "Server disconnected"
    bug = KeyError("a bug, not the network")
    assert httpx_error(bug) is bug


def test_urls_in_messages_lose_their_query_string():
    """A Kannel sendsms URL holds the password and the phone; the message goes to the ledger."""
    url = "http://127.0.0.1:13013/cgi-bin/sendsms?username=u&password=s3cret&to=%2B4917612345678"
    mapped = httpx_error(aiohttp.ConnectionTimeoutError(f"Connection timeout to host {url}"))
    assert str(mapped) == "Connection timeout to host http://127.0.0.1:13013/cgi-bin/sendsms"
    info = SimpleNamespace(real_url=url)
    mapped = httpx_error(aiohttp.ClientResponseError(info, (), status=400, message="bad"))
    assert "s3cret" not in str(mapped) and "4917612345678" not in str(mapped)
    assert "/cgi-bin/sendsms" in str(mapped)


def test_the_gateway_client_keeps_no_cookies():
    from dagster_project.activation.gateway import GatewayClient

    def answer(request: httpx.Request) -> httpx.Response:
        assert "cookie" not in request.headers
        return httpx.Response(200, headers={"Set-Cookie": "session=abc; Path=/"}, text="ok")

    async def go():
        async with GatewayClient(transport=httpx.MockTransport(answer)) as client:
            await client.get("http://gateway.test/a")
            await client.get("http://gateway.test/b")  # no cookie sent back
            return len(client.cookies)

    assert asyncio.run(go()) == 0
    with pytest.raises(ValueError, match="no cookies"):
        GatewayClient(cookies={"a": "b"})
