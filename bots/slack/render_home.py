"""Pure renderers for everything outside a session: catalogue, status, leaderboard, help, App Home."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bots.slack.mrkdwn import clip, escape
from bots.slack.render import MAX_BLOCKS, Block, SlackMessage, context, points, section
from core.service.catalog import ChallengeSummary
from core.service.learners import LeaderboardEntry, Profile
from core.store.base import SessionSummary

OPEN = ("created", "active")
HOME_SESSIONS = 10
COMMANDS = (
    ("list", "the challenges you can play"),
    ("play <challenge>", "start or resume a challenge in a new thread"),
    ("status", "your XP, level and sessions in progress"),
    ("hint", "a hint for the step you are on (or use the Hint button)"),
    ("abandon [challenge]", "give up this thread's session (or that challenge's), from anywhere"),
    ("restart <challenge>", "give up that challenge's session and start it again here"),
    ("leaderboard", "the top learners"),
    ("link <code>", "link this Slack user to your web account (code from your profile)"),
    ("help", "this message"),
)


def help_message(unknown: str | None = None) -> SlackMessage:
    lines = [f"• `/curiouscore {name}` — {what}" for name, what in COMMANDS]
    intro = f"I don't know `{escape(clip(unknown, 50))}`. " if unknown else ""
    text = f"{intro}*CuriousCore* runs each challenge as a thread.\n" + "\n".join(lines)
    return SlackMessage("CuriousCore help", section(text))


def catalogue_message(summaries: Sequence[ChallengeSummary]) -> SlackMessage:
    if not summaries:
        return SlackMessage("No challenges yet", section("There are no challenges yet."))
    blocks: list[Block] = section("*Challenges* — start one with `/curiouscore play <id>`")
    for summary in summaries[: MAX_BLOCKS - 1]:
        blocks += section(
            f"*{escape(summary.title)}* `{escape(summary.id)}`\n{escape(clip(summary.summary, 500))}\n"
            f"_{escape(summary.difficulty)} · {summary.step_count} steps · "
            f"~{summary.estimated_minutes} min · {summary.xp} XP_"
        )[:1]
    return SlackMessage("CuriousCore challenges", blocks[:MAX_BLOCKS])


def leaderboard_lines(entries: Sequence[LeaderboardEntry]) -> str:
    if not entries:
        return "Nobody has earned XP yet. Be the first!"
    return "\n".join(
        f"{entry.rank}. {escape(clip(entry.display_name, 50))} — {entry.xp} XP "
        f"(level {entry.level}, {entry.completed} completed)"
        for entry in entries
    )


def leaderboard_message(entries: Sequence[LeaderboardEntry]) -> SlackMessage:
    return SlackMessage(
        "CuriousCore leaderboard", section("*Leaderboard*\n" + leaderboard_lines(entries))
    )


def _session_line(session: SessionSummary, link: str | None) -> str:
    where = f" — <{link}|open the thread>" if link else ""
    return (
        f"• `{escape(session.challenge_id)}` step {min(session.step_index + 1, session.total_steps)}"
        f"/{session.total_steps}, score {points(session.score)}/{points(session.max_score)}{where}"
    )


def open_sessions(profile: Profile) -> list[SessionSummary]:
    return [s for s in profile.sessions if s.status in OPEN][:HOME_SESSIONS]


def status_message(profile: Profile, links: Mapping[str, str]) -> SlackMessage:
    lines = [
        f"*{escape(profile.display_name)}* — level {profile.level}, {profile.xp} XP, "
        f"{len(profile.completed)} challenge{'s' if len(profile.completed) != 1 else ''} completed"
    ]
    sessions = open_sessions(profile)
    if sessions:
        lines.append("*In progress*")
        lines += [_session_line(s, links.get(s.session_id)) for s in sessions]
    else:
        lines.append("No session in progress. Try `/curiouscore list`.")
    return SlackMessage("Your CuriousCore status", section("\n".join(lines)))


def home_view(
    profile: Profile, links: Mapping[str, str], leaders: Sequence[LeaderboardEntry]
) -> Block:
    """The App Home tab: XP, level, sessions in progress (linked to their threads), leaderboard."""
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "CuriousCore"}},
        *section(
            f"*{escape(profile.display_name)}* · level {profile.level} · {profile.xp} XP · "
            f"{len(profile.completed)} completed"
        ),
        {"type": "divider"},
    ]
    sessions = open_sessions(profile)
    lines = [_session_line(s, links.get(s.session_id)) for s in sessions]
    blocks += section("*Sessions in progress*\n" + ("\n".join(lines) if lines else "None yet."))
    blocks.append({"type": "divider"})
    blocks += section("*Leaderboard*\n" + leaderboard_lines(leaders))
    blocks.append(context("Start a challenge in any channel with `/curiouscore play <id>`."))
    return {"type": "home", "blocks": blocks[:100]}


def linked_message(display_name: str) -> SlackMessage:
    return SlackMessage(
        "Linked",
        section(
            f"Linked to *{escape(display_name)}*: your XP and history are now shared with the web."
        ),
    )


def notice(text: str) -> SlackMessage:
    """A short (ephemeral) message; ``text`` must already be safe mrkdwn."""
    return SlackMessage(clip(text, 300), section(text))
