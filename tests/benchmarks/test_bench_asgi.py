"""bench_asgi plays issue 17's flow through the whole ASGI app and through the use cases alone,
the same requests each way, and reads callgrind's per-thread totals."""

from __future__ import annotations

import pytest

from benchmarks.bench_asgi import AsgiClient, measure, thread_totals


@pytest.mark.parametrize("through", ["app", "service"])
async def test_the_issue_flow_is_timed_the_same_way_through_the_app_and_the_service(through):
    # 2 learners x 1 round of create, start, continue, wrong answer, right answer, state.
    measured = await measure(requests=12, learners=2, through=through)
    assert (measured.requests, measured.rounds) == (12, 1)
    assert measured.instructions is None  # not counted without --callgrind


async def test_the_client_hands_the_app_a_scope_and_the_body_as_uvicorn_does():
    seen = {}

    async def app(scope, receive, send):
        seen["scope"], seen["message"] = scope, await receive()
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b'{"ok":', "more_body": True})
        await send({"type": "http.response.body", "body": b"true}"})
        seen["after"] = await receive()  # once answered: the client is gone

    status, body = await AsgiClient(app).request("POST", "/api/x", {"a": 1}, {"X-Id": "7"})
    assert (status, body) == (201, b'{"ok":true}')
    scope = seen["scope"]
    assert (scope["method"], scope["path"], scope["raw_path"]) == ("POST", "/api/x", b"/api/x")
    assert (b"x-id", b"7") in scope["headers"]
    assert (b"content-type", b"application/json") in scope["headers"]
    assert (b"content-length", b"8") in scope["headers"]
    assert seen["message"] == {"type": "http.request", "body": b'{"a": 1}', "more_body": False}
    assert seen["after"] == {"type": "http.disconnect"}


def test_every_threads_instructions_are_summed():
    report = "PID 7: python x\n\n  Totals:        Ir \n   Th 1  75,064,728 \n   Th 2  1,000 \n"
    assert thread_totals(report) == 75_065_728
    with pytest.raises(RuntimeError):
        thread_totals("  No information available as instrumentation is switched off.")
