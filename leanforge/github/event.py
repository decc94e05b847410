"""GitHub events: what triggered the Action, and whether forge should act on it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leanforge.errors import UsageError
from leanforge.github.sanitize import sanitize

WRITE_PERMISSIONS = frozenset({"admin", "maintain", "write"})
COMMANDS = ("retry", "build")  # "/forge retry", "/forge build" in an issue comment
EVENTS = ("issues", "issue_comment")
TASK_LIMIT = 20_000
TRUNCATED = "[truncated]"
_TITLE_LIMIT = 300
_COMMAND = re.compile(rf"/forge[ \t]+({'|'.join(COMMANDS)})", re.I)


@dataclass(frozen=True)
class Trigger:
    """One `issues` or `issue_comment` event, reduced to what forge decides on."""

    event: str  #: "issues" or "issue_comment"
    action: str  #: payload["action"], e.g. "labeled", "created"
    repo: str  #: "owner/name" (repository.full_name)
    number: int  #: the issue number
    title: str  #: the raw (unsanitized) issue title
    body: str  #: the raw issue body ("" when null)
    sender: str  #: sender.login, the actor to authorize (not the issue's author)
    label: str  #: the label just added ("" for comments)
    labels: tuple[str, ...]  #: the issue's current labels
    command: str  #: "" or one of COMMANDS (from a comment)
    fork: bool  #: the repository is a fork, or the issue is a pull request from one
    is_pull: bool  #: the "issue" is a pull request


def parse_event(name: str, payload: Mapping[str, Any]) -> Trigger:
    """Read a webhook payload; ``name`` is GITHUB_EVENT_NAME."""
    if name not in EVENTS:
        raise UsageError(
            f"event {name!r} is not handled; trigger the forge Action on 'issues' or 'issue_comment'"
        )
    if not isinstance(payload, Mapping):
        raise UsageError(f"the {name} event payload is not a JSON object; pass GitHub's event file")
    issue = _field(name, payload, "issue", Mapping)
    repository = _field(name, payload, "repository", Mapping)
    repo = _field(name, repository, "full_name", str, "repository.full_name")
    pull = issue.get("pull_request")
    action = _field(name, payload, "action", str)
    label = ""
    if name == "issues" and action in ("labeled", "unlabeled"):
        label = _field(name, _field(name, payload, "label", Mapping), "name", str, "label.name")
    command = ""
    if name == "issue_comment":
        comment = _field(name, payload, "comment", Mapping)
        command = parse_command(_optional_str(name, comment, "body", "comment.body"))
    return Trigger(
        event=name,
        action=action,
        repo=repo,
        number=_number(name, issue),
        title=_field(name, issue, "title", str, "issue.title"),
        body=_optional_str(name, issue, "body", "issue.body"),
        sender=_field(name, _field(name, payload, "sender", Mapping), "login", str, "sender.login"),
        label=label,
        labels=_labels(name, issue),
        command=command,
        fork=repository.get("fork") is True or (pull is not None and _from_fork(payload, repo)),
        is_pull=pull is not None,
    )


def parse_command(comment_body: str) -> str:
    """The command in a comment's first non-empty line ("/forge retry"), or ""."""
    for line in sanitize(comment_body).splitlines():
        if line.strip():
            match = _COMMAND.fullmatch(line.strip())
            return match.group(1).lower() if match else ""
    return ""


def decide(trigger: Trigger, label: str) -> tuple[bool, str]:
    """Whether forge runs for this trigger, and why (or why not).

    Labels compare case-insensitively, as GitHub's do. Fork and permission checks are separate.
    """
    wanted = label.casefold()
    if trigger.event == "issues":
        if trigger.action != "labeled":
            return False, f"action {trigger.action!r} is not handled"
        if trigger.is_pull:
            return False, "pull requests are not handled"
        if trigger.label.casefold() != wanted:
            return False, f"label {trigger.label!r} is not {label!r}"
        return True, f"label {label!r} was added"
    if trigger.event == "issue_comment":
        if trigger.action != "created":
            return False, f"action {trigger.action!r} is not handled"
        if not trigger.command:
            return False, "comment has no /forge command"
        if trigger.is_pull:
            return False, "comment is on a pull request"
        # `/forge build` asks for a first run on any issue; `/forge retry` re-runs one forge owns.
        if trigger.command == "retry" and wanted not in {n.casefold() for n in trigger.labels}:
            return False, f"issue does not carry label {label!r}"
        return True, f"comment asks /forge {trigger.command}"
    return False, f"event {trigger.event!r} is not handled"


def authorized(permission: str) -> bool:
    """Whether a collaborator permission ("admin", "write", "read", ...) may run forge."""
    return permission.lower() in WRITE_PERMISSIONS


def task_text(title: str, body: str) -> str:
    """The sanitized task for the spec-writer: the title as a heading, a blank line, the body.

    At most TASK_LIMIT characters; a longer body is cut and ends with a visible marker.
    """
    heading = " ".join(sanitize(title).split())[:_TITLE_LIMIT] or "(untitled)"
    text = f"# {heading}"
    cleaned = sanitize(body)
    if cleaned:
        text += f"\n\n{cleaned}"
    if len(text) <= TASK_LIMIT:
        return text
    marker = f"\n\n{TRUNCATED}"
    return text[: TASK_LIMIT - len(marker)].rstrip() + marker


def _field(
    event: str, mapping: Mapping[str, Any], key: str, kind: type[Any], path: str = ""
) -> Any:
    value = mapping.get(key)
    if not isinstance(value, kind):
        raise UsageError(
            f"the {event} event payload has no valid {path or key!r}; pass GitHub's unmodified event file"
        )
    return value


def _optional_str(event: str, mapping: Mapping[str, Any], key: str, path: str) -> str:
    if mapping.get(key) is None:
        return ""
    text: str = _field(event, mapping, key, str, path)
    return text


def _number(event: str, issue: Mapping[str, Any]) -> int:
    number = issue.get("number")
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise UsageError(
            f"the {event} event payload has no valid 'issue.number'; pass GitHub's unmodified event file"
        )
    return number


def _labels(event: str, issue: Mapping[str, Any]) -> tuple[str, ...]:
    raw = issue.get("labels") or []
    if not isinstance(raw, list):
        raise UsageError(
            f"the {event} event payload has no valid 'issue.labels'; pass GitHub's unmodified event file"
        )
    names = []
    for item in raw:
        name = item.get("name") if isinstance(item, Mapping) else item
        if not isinstance(name, str):
            raise UsageError(
                f"the {event} event payload has a label without a name in 'issue.labels'; pass GitHub's unmodified event file"
            )
        names.append(name)
    return tuple(names)


def _from_fork(payload: Mapping[str, Any], repo: str) -> bool:
    """Whether a pull request's head is another repository; unknown counts as a fork."""
    for holder in (payload.get("pull_request"), payload["issue"].get("pull_request")):
        head = holder.get("head") if isinstance(holder, Mapping) else None
        if isinstance(head, Mapping):
            head_repo = head.get("repo")
            name = head_repo.get("full_name") if isinstance(head_repo, Mapping) else None
            return name != repo
    return True
