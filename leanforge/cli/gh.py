"""`forge gh run`: the GitHub Action's entry point (see docs/github-action.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from leanforge.cli.common import (
    CONTEXT_SETTINGS,
    emit_json,
    forge_here,
    json_option,
    progress,
    quiet,
)
from leanforge.errors import UsageError


@click.group(context_settings=CONTEXT_SETTINGS)
def gh() -> None:
    """Run forge from GitHub: labelled issues become pull requests (or merges)."""


@gh.command("run", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--event",
    "event_path",
    envvar="GITHUB_EVENT_PATH",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The event JSON ($GITHUB_EVENT_PATH).",
)
@click.option(
    "--event-name",
    envvar="GITHUB_EVENT_NAME",
    default="issues",
    show_default=True,
    help="issues or issue_comment ($GITHUB_EVENT_NAME).",
)
@click.option(
    "--label",
    envvar="FORGE_GH_LABEL",
    default="forge",
    show_default=True,
    help="The label that asks forge to build an issue.",
)
@click.option(
    "--mode",
    envvar="FORGE_GH_MODE",
    type=click.Choice(["pr", "merge"]),
    default="pr",
    show_default=True,
    help="Open a pull request, or merge and push the target.",
)
@click.option(
    "--reviewers",
    envvar="FORGE_GH_REVIEWERS",
    type=click.IntRange(min=1),
    help="Reviewers who must all approve.",
)
@click.option(
    "--max-attempts",
    envvar="FORGE_GH_MAX_ATTEMPTS",
    type=click.IntRange(min=1),
    help="Engineer attempts before the issue fails.",
)
@click.option(
    "--max-cost",
    envvar="FORGE_GH_MAX_COST",
    type=float,
    required=True,
    help="USD the whole run may spend (spec and build); required, it fails closed.",
)
@click.option("--model", envvar="FORGE_GH_MODEL", default=None, help="Model id for every role.")
@click.option(
    "--target",
    envvar="FORGE_GH_TARGET",
    default=None,
    help="Branch to build on and deliver to (default: the checked-out one).",
)
@click.option("--remote", default="origin", show_default=True, help="The git remote to push to.")
@json_option
def run_cmd(
    event_path: Path | None,
    event_name: str,
    label: str,
    mode: str,
    reviewers: int | None,
    max_attempts: int | None,
    max_cost: float,
    model: str | None,
    target: str | None,
    remote: str,
    as_json: bool,
) -> None:
    """Handle one GitHub event: authorize the sender, spec, build, then a PR or a merge.

    Exit 0 when the issue was done, skipped or refused (an untrusted sender, a fork), 1 when
    the build failed (the issue gets forge:failed and the reason).
    """
    from leanforge.github.action import ActionOptions, check_options, load_event, run_action
    from leanforge.github.rest import RestClient

    if event_path is None:
        raise UsageError("give the event: --event PATH (or GITHUB_EVENT_PATH)")
    options = ActionOptions(
        label=label,
        mode=mode,
        reviewers=reviewers,
        max_attempts=max_attempts,
        max_cost=max_cost,
        model=model or None,
        target=target or None,
        remote=remote,
        run_url=_run_url(os.environ),
    )
    # run_action checks again, but only after the event, the token and the config were read:
    # the config refuses a negative budgets.task_usd with its own message.
    check_options(options)
    trigger = load_event(event_path, event_name)
    github = RestClient.from_env(os.environ)
    # The spec-writer's cap is budgets.task_usd; the build's is options.max_cost (run_action).
    forge = forge_here({"budgets": {"task_usd": max_cost}})
    note = quiet if as_json else progress
    result = run_action(
        forge, github, trigger, options, token=os.environ.get("GITHUB_TOKEN", ""), note=note
    )
    if as_json:
        emit_json(
            {
                "status": result.status,
                "reason": result.reason,
                "slug": result.slug,
                "pull_url": result.pull_url,
                "merged_commit": result.merged_commit,
                "comment_id": result.comment_id,
            }
        )
    else:
        click.echo(f"{result.status}: {result.reason}" if result.reason else result.status)
    sys.exit(0 if result.ok else 1)


def _run_url(env: os._Environ[str] | dict[str, str]) -> str:
    server, repo, run = (
        env.get("GITHUB_SERVER_URL"),
        env.get("GITHUB_REPOSITORY"),
        env.get("GITHUB_RUN_ID"),
    )
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else ""
