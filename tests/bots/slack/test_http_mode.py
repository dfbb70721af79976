"""The Slack bot end to end in HTTP mode: signed requests to /slack/events on the real FastAPI app,
the real bolt app behind it, and a local fake Slack Web API recording every call."""

from __future__ import annotations

import asyncio
import json
import time

from bots.common.ids import ComponentId, decode, encode
from tests.bots.slack.conftest import CHANNEL, OTHER_USER, USER, SlackHarness, signature_headers
from tests.bots.slack.fake_slack import TEAM
from tests.bots.slow_llm import slow_grader
from tests.waiting import until


def _action_ids(blocks: list[dict]) -> list[str]:
    return [
        element["action_id"]
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def _last_step_message(slack: SlackHarness) -> tuple[str, list[dict]]:
    """(ts, blocks) of the latest message that has buttons (step 1 is in the thread's parent)."""
    posted = slack.fake.of("chat.postMessage")
    for call in reversed(posted):
        if _action_ids(call.params.get("blocks") or []):
            return call.response["ts"], call.params["blocks"]
    raise AssertionError("no step message with buttons")


async def _play(slack: SlackHarness) -> str:
    """Run ``/curiouscore play quiz``; return the parent message's ts (the thread)."""
    response = await slack.command("play quiz")
    assert response.status_code == 200
    posts = await slack.fake.wait_calls("chat.postMessage", 1)
    parent = posts[0]
    assert parent.params["channel"] == CHANNEL and not parent.params.get("thread_ts")
    await until(
        lambda: slack.services.chat.session_in_thread("slack", TEAM, parent.response["ts"]),
        "the thread to be bound to its session",
        within=30,
    )
    return parent.response["ts"]


async def test_play_posts_one_parent_message_that_opens_the_thread_with_step_1(
    slack: SlackHarness,
):
    thread_ts = await _play(slack)
    step = slack.fake.of("chat.postMessage")[0]
    assert step.response["ts"] == thread_ts
    assert "Welcome" in str(step.params["blocks"]) and "traveller" in str(step.params["blocks"])
    continue_id = decode(_action_ids(step.params["blocks"])[0])
    assert continue_id is not None and continue_id.action == "continue"
    assert continue_id.step_id == "welcome"
    bound = await slack.services.chat.session_in_thread("slack", TEAM, thread_ts)
    assert bound is not None and bound.session_id == continue_id.session_id
    assert bound.learner_id == f"slack:{TEAM}:{USER}"
    assert slack.fake.of("auth.test")


async def test_a_whole_challenge_is_played_in_the_thread(slack: SlackHarness):
    thread_ts = await _play(slack)
    # Gate: Continue.
    ts, blocks = _last_step_message(slack)
    await slack.click(_action_ids(blocks)[0], message_ts=ts, thread_ts=thread_ts)
    posts = await slack.fake.wait_calls("chat.postMessage", 2)
    assert posts[1].params["thread_ts"] == thread_ts and "Pick" in str(posts[1].params["blocks"])
    await slack.fake.wait_calls("chat.update", 1)  # the gate's button is spent
    # MCQ: the right answer is choice 0.
    ts, blocks = _last_step_message(slack)
    answer = next(
        a for a in _action_ids(blocks) if decode(a).action == "answer" and decode(a).arg == "0"
    )
    await slack.click(answer, message_ts=ts, thread_ts=thread_ts)
    posts = await slack.fake.wait_calls("chat.postMessage", 3)
    assert "Correct" in str(posts[2].params["blocks"]) and "Several" in str(
        posts[2].params["blocks"]
    )
    # Multi: tick 2 and 4 (indices 0 and 2), then Submit.
    ts, blocks = _last_step_message(slack)
    ids = _action_ids(blocks)
    toggle = next(a for a in ids if decode(a).action == "toggle")
    submit = next(a for a in ids if decode(a).action == "submit")
    state = {
        toggle: {
            toggle: {
                "type": "checkboxes",
                "selected_options": [{"value": "0"}, {"value": "2"}],
            }
        }
    }
    await slack.click(submit, message_ts=ts, thread_ts=thread_ts, state=state)
    posts = await slack.fake.wait_calls("chat.postMessage", 4)
    assert "Truth" in str(posts[3].params["blocks"])
    # True/false.
    ts, blocks = _last_step_message(slack)
    true = next(a for a in _action_ids(blocks) if decode(a).arg == "true")
    await slack.click(true, message_ts=ts, thread_ts=thread_ts)
    posts = await slack.fake.wait_calls("chat.postMessage", 5)
    assert "Reply in this thread" in str(posts[4].params["blocks"])
    # Chat: answered by a thread reply.
    response = await slack.reply("Functions let you reuse code under a good name.", thread_ts)
    assert response.status_code == 200
    posts = await slack.fake.wait_calls("chat.postMessage", 6)
    assert posts[5].params["thread_ts"] == thread_ts
    final = str(posts[5].params["blocks"])  # offline grading is instant: the result at once
    assert "Grading your answer" not in final
    assert "`reuse`" in final and "`names`" in final  # points per rubric item
    assert "Passed" in final and "XP" in final
    profile = await slack.services.learners.profile(
        await slack.services.chat.actor("slack", f"{TEAM}:{USER}", "ada")
    )
    assert profile.xp > 0


async def test_a_slow_grade_shows_grading_at_once_then_is_replaced_by_the_result(
    slack: SlackHarness,
):
    grader = slow_grader(slack.services)  # a real LLM takes a while; the offline one does not
    thread_ts = await _play(slack)
    session_id = (await slack.services.chat.session_in_thread("slack", TEAM, thread_ts)).session_id
    actor = await slack.services.chat.actor("slack", f"{TEAM}:{USER}", "ada")
    game = slack.services.game
    await game.continue_gate(actor, session_id, "welcome")
    await game.submit_answer(actor, session_id, "pick", 0)
    await game.submit_answer(actor, session_id, "several", (0, 2))
    await game.submit_answer(actor, session_id, "truth", True)
    await slack.reply("Functions let you reuse code under a good name.", thread_ts)
    posts = await slack.fake.wait_calls("chat.postMessage", 2)
    assert "Grading your answer" in str(posts[1].params["blocks"])  # shown at once
    assert not slack.fake.of("chat.update")
    grading_ts = posts[1].response["ts"]
    grader.release.set()
    await slack.fake.wait_for(
        lambda fake: any(c.params.get("ts") == grading_ts for c in fake.of("chat.update"))
    )
    replaced = [c for c in slack.fake.of("chat.update") if c.params.get("ts") == grading_ts]
    final = str(replaced[0].params["blocks"])  # then replaced by the result
    assert "`reuse`" in final and "`names`" in final and "Passed" in final
    assert "Grading your answer" not in final
    assert grader.calls == 1


async def test_a_retried_event_appends_nothing(slack: SlackHarness):
    thread_ts = await _play(slack)
    session_id = (await slack.services.chat.session_in_thread("slack", TEAM, thread_ts)).session_id
    # Walk to the chat step through the service to keep this test about retries.
    actor = await slack.services.chat.actor("slack", f"{TEAM}:{USER}", "ada")
    game = slack.services.game
    await game.continue_gate(actor, session_id, "welcome")
    await game.submit_answer(actor, session_id, "pick", 0)
    await game.submit_answer(actor, session_id, "several", (0, 2))
    await game.submit_answer(actor, session_id, "truth", True)
    before = len(await slack.services.store.read_stream(session_id))
    answer = "Functions let you reuse code under a good name."
    await slack.reply(answer, thread_ts, event_id="EvRETRY1")
    posts = await slack.fake.wait_calls("chat.postMessage", 2)  # the step and its result
    assert "Passed" in str(posts[1].params["blocks"])
    after_first = len(await slack.services.store.read_stream(session_id))
    assert after_first > before
    retry = await slack.reply(
        answer,
        thread_ts,
        event_id="EvRETRY1",
        **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert retry.status_code == 200
    await _settle()
    assert len(await slack.services.store.read_stream(session_id)) == after_first
    assert len(slack.fake.of("chat.postMessage")) == 2
    assert not slack.fake.of("chat.update")


async def test_only_the_sessions_learner_is_listened_to_in_its_thread(slack: SlackHarness):
    thread_ts = await _play(slack)
    session_id = (await slack.services.chat.session_in_thread("slack", TEAM, thread_ts)).session_id
    before = len(await slack.services.store.read_stream(session_id))
    await slack.reply("I am someone else", thread_ts, user=OTHER_USER)
    await _settle()
    assert len(await slack.services.store.read_stream(session_id)) == before
    assert len(slack.fake.of("chat.postMessage")) == 1


async def test_a_forged_signature_is_refused(slack: SlackHarness):
    body = slack.event_body(
        {"type": "app_mention", "channel": CHANNEL, "user": USER, "text": "help", "ts": "1.1"}
    )
    headers = signature_headers(body, secret="not-the-secret")
    response = await slack.http.post(
        "/slack/events", content=body, headers={"Content-Type": "application/json", **headers}
    )
    assert response.status_code == 401
    assert not slack.fake.of("chat.postEphemeral")


async def test_a_request_older_than_five_minutes_is_refused(slack: SlackHarness):
    body = slack.event_body(
        {"type": "app_mention", "channel": CHANNEL, "user": USER, "text": "help", "ts": "1.1"}
    )
    headers = signature_headers(body, ts=int(time.time()) - 6 * 60)
    response = await slack.http.post(
        "/slack/events", content=body, headers={"Content-Type": "application/json", **headers}
    )
    assert response.status_code == 401


async def test_a_click_on_a_closed_step_gets_an_ephemeral_notice(slack: SlackHarness):
    thread_ts = await _play(slack)
    ts, blocks = _last_step_message(slack)
    gate = _action_ids(blocks)[0]
    await slack.click(gate, message_ts=ts, thread_ts=thread_ts)
    await slack.fake.wait_calls("chat.postMessage", 2)
    session_id = decode(gate).session_id
    before = len(await slack.services.store.read_stream(session_id))
    await slack.click(gate, message_ts=ts, thread_ts=thread_ts)
    notices = await slack.fake.wait_calls("chat.postEphemeral", 1)
    assert "closed" in notices[0].params["text"]
    assert notices[0].params["user"] == USER and notices[0].params["thread_ts"] == thread_ts
    assert len(await slack.services.store.read_stream(session_id)) == before


async def test_someone_elses_button_is_refused_without_touching_the_session(slack: SlackHarness):
    thread_ts = await _play(slack)
    ts, blocks = _last_step_message(slack)
    await slack.click(_action_ids(blocks)[0], message_ts=ts, thread_ts=thread_ts, user=OTHER_USER)
    # Errors answer through the click's response_url, ephemerally.
    notices = await slack.fake.wait_calls("response_url", 1)
    assert "isn't yours" in notices[0].params["text"]
    assert notices[0].params["response_type"] == "ephemeral"
    assert "Traceback" not in str(notices[0].params)


async def test_link_code_links_the_slack_user_to_a_web_account(slack: SlackHarness):
    account = await slack.services.accounts.register(
        "ada@example.com", "a sturdy passphrase", "Ada Web"
    )
    from core.service.actor import Actor

    code = await slack.services.accounts.create_link_code(
        Actor(account.account.learner_id, "learner")
    )
    response = await slack.command(f"link {code.code}")
    assert response.status_code == 200
    replies = await slack.fake.wait_calls("response_url", 1)
    assert "Ada Web" in str(replies[0].params["blocks"])
    actor = await slack.services.chat.actor("slack", f"{TEAM}:{USER}", "ada")
    assert actor.learner_id == account.account.learner_id


async def test_a_bad_link_code_gets_a_friendly_message(slack: SlackHarness):
    await slack.command("link NOPE-NOPE")
    replies = await slack.fake.wait_calls("response_url", 1)
    text = replies[0].params["text"]
    assert "not valid" in text and "Traceback" not in text


async def test_opening_app_home_publishes_xp_sessions_and_leaderboard(slack: SlackHarness):
    thread_ts = await _play(slack)
    response = await slack.event(
        {
            "type": "app_home_opened",
            "user": USER,
            "channel": "D0HOME",
            "tab": "home",
            "event_ts": "1.2",
        }
    )
    assert response.status_code == 200
    published = await slack.fake.wait_calls("views.publish", 1)
    view = published[0].params["view"]
    assert published[0].params["user_id"] == USER and view["type"] == "home"
    text = str(view["blocks"])
    assert "level 1" in text and "Leaderboard" in text
    assert f"p{thread_ts.replace('.', '')}" in text  # a link to the session's thread


async def test_list_status_leaderboard_and_help_answer_ephemerally(slack: SlackHarness):
    for text in ("list", "status", "leaderboard", "help", "dance"):
        await slack.command(text)
    replies = await slack.fake.wait_calls("response_url", 5)
    texts = " ".join(str(r.params["blocks"]) for r in replies)
    assert "A small quiz" in texts and "Leaderboard" in texts and "level 1" in texts
    assert "dance" in texts
    assert all(r.params["response_type"] == "ephemeral" for r in replies)


async def test_an_app_mention_runs_a_command(slack: SlackHarness):
    await slack.event(
        {
            "type": "app_mention",
            "channel": CHANNEL,
            "user": USER,
            "text": "<@U0BOT> play quiz",
            "ts": "1700000300.000001",
            "event_ts": "1700000300.000001",
        }
    )
    posts = await slack.fake.wait_calls("chat.postMessage", 1)
    assert not posts[0].params.get("thread_ts") and "Welcome" in str(posts[0].params["blocks"])


async def test_hint_in_the_thread_by_button(slack: SlackHarness):
    thread_ts = await _play(slack)
    ts, blocks = _last_step_message(slack)
    await slack.click(_action_ids(blocks)[0], message_ts=ts, thread_ts=thread_ts)
    await slack.fake.wait_calls("chat.postMessage", 2)
    ts, blocks = _last_step_message(slack)
    hint = next(a for a in _action_ids(blocks) if decode(a).action == "hint")
    await slack.click(hint, message_ts=ts, thread_ts=thread_ts)
    posts = await slack.fake.wait_calls("chat.postMessage", 3)
    assert "Hint" in str(posts[2].params["blocks"])


async def test_unknown_challenge_is_a_friendly_ephemeral_error(slack: SlackHarness):
    await slack.command("play nope")
    replies = await slack.fake.wait_calls("response_url", 1)
    assert "list" in replies[0].params["text"]
    assert not slack.fake.of("chat.postMessage")


async def _settle() -> None:

    for _ in range(20):
        await asyncio.sleep(0.02)


def test_component_ids_used_here_round_trip():
    raw = encode(ComponentId("s", "welcome", "continue"))
    assert decode(raw) == ComponentId("s", "welcome", "continue")


async def test_code_in_a_thread_reply_is_stored_as_typed_and_shown_escaped_once(
    slack: SlackHarness,
):
    thread_ts = await _play(slack)
    session_id = (await slack.services.chat.session_in_thread("slack", TEAM, thread_ts)).session_id
    actor = await slack.services.chat.actor("slack", f"{TEAM}:{USER}", "ada")
    game = slack.services.game
    await game.continue_gate(actor, session_id, "welcome")
    await game.submit_answer(actor, session_id, "pick", 0)
    await game.submit_answer(actor, session_id, "several", (0, 2))
    await game.submit_answer(actor, session_id, "truth", True)
    # Slack delivers what the learner typed, `if x < 0 & y`, with its entities escaped.
    await slack.reply("reuse: if x &lt; 0 &amp; y", thread_ts)
    posts = await slack.fake.wait_calls("chat.postMessage", 2)
    events = await slack.services.store.read_stream(session_id)
    submitted = [e for e in events if e.type == "AnswerSubmitted"][-1]
    assert submitted.data["answer"] == "reuse: if x < 0 & y"
    shown = json.dumps(posts[-1].params["blocks"])
    assert "if x &lt; 0 &amp; y" in shown and "&amp;lt;" not in shown and "&amp;amp;" not in shown


async def test_a_reply_to_a_button_step_says_to_use_the_buttons(slack: SlackHarness):
    thread_ts = await _play(slack)  # step 1 is a gate: it takes the Continue button
    session_id = decode(_action_ids(_last_step_message(slack)[1])[0]).session_id
    before = len(await slack.services.store.read_stream(session_id))
    await slack.reply("here is my answer", thread_ts)
    notices = await slack.fake.wait_calls("chat.postEphemeral", 1)
    assert "button answer" in notices[0].params["text"]
    assert notices[0].params["user"] == USER and notices[0].params["thread_ts"] == thread_ts
    assert len(await slack.services.store.read_stream(session_id)) == before
