"""bench_api's load generator finishes and counts a failed request instead of crashing: a server
that resets connections (or closes them mid-answer) gives an error per request, and ``close()`` on
a reset connection is quiet."""

from __future__ import annotations

import asyncio
import socket
import struct

from benchmarks.bench_api import Connection, Samples


async def _resetting_server() -> tuple[asyncio.Server, int]:
    """Reads a request, then resets the connection (RST, not FIN)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_a_reset_connection_is_counted_as_an_error_not_raised():
    server, port = await _resetting_server()
    async with server:
        connection, samples = Connection("127.0.0.1", port), Samples()
        for _ in range(3):
            assert await samples.call(connection, "state", "GET", "/api/x") is None
        await connection.close()
        await connection.close()  # twice, after a reset: still quiet
    assert samples.errors == {"state connection": 3}
    assert not samples.by_endpoint["state"]


async def test_a_refused_connection_is_counted_as_an_error():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    samples = Samples()
    assert await samples.call(Connection("127.0.0.1", port), "create", "POST", "/", {}) is None
    assert samples.errors == {"create connection": 1}
