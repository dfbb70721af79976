"""bench_api's load generator finishes and counts a failed request instead of crashing: a server
that resets connections (or closes them mid-answer) gives an error per request, and ``close()`` on
a reset connection is quiet; and its garbage collector stays off while it times requests."""

from __future__ import annotations

import asyncio
import gc
import socket
import struct

import pytest

from benchmarks.bench_api import Connection, Samples, _create_rounds, collector_paused


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


def test_the_first_round_creates_are_reported_apart_from_the_later_rounds():
    samples = Samples()
    first = [50.0, 60.0, 90.0]
    samples.by_endpoint["create"] = [60.0, 10.0, 50.0, 12.0, 90.0, 11.0] + [10.0] * 200
    samples.first_creates = first
    first_p50, first_max, later_p99 = _create_rounds(samples)
    assert (first_p50, first_max) == (60.0, 90.0)
    assert later_p99 < 13  # none of the first round's creates counts among the later ones
    assert samples.by_endpoint["create"][:3] == [60.0, 10.0, 50.0]  # the samples are untouched


def test_no_split_without_a_later_round():
    samples = Samples()
    samples.by_endpoint["create"] = [50.0, 60.0]
    samples.first_creates = [50.0, 60.0]
    assert _create_rounds(samples) is None


def test_the_collector_is_off_while_requests_are_timed_and_back_on_after_an_error() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(TimeoutError), collector_paused():
        raise TimeoutError
    assert gc.isenabled()
