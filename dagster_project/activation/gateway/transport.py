"""``ShardedTransport``: one httpx transport spread over several small connection pools.

httpcore's connection pool scans every connection (and asks each socket, through
anyio, whether it is readable) several times per request, so its CPU cost per
request grows with the pool (32 connections in one pool against 8: see
bench/README.md). Several pools of at most
``shard_size`` connections each, with every request going to the least busy
one, keep the scan short while the client still holds ``concurrency``
connections. It is still one ``httpx.AsyncClient``; only the pool is split.
"""

from __future__ import annotations

import httpx


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
