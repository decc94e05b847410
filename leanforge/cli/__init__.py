"""The `forge` command line. Only this layer turns ForgeError into exit codes and one-line messages."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from leanforge import __version__
from leanforge.cli.common import CONTEXT_SETTINGS
from leanforge.errors import ForgeError


class ForgeGroup(click.Group):
    """Turns forge's own errors into one clean line (set FORGE_DEBUG=1 for the traceback)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ForgeError as exc:
            if os.environ.get("FORGE_DEBUG"):
                raise
            if exc.usage:
                raise click.UsageError(str(exc)) from None  # one line: no usage banner
            raise click.ClickException(str(exc)) from None


@click.group(cls=ForgeGroup, context_settings=CONTEXT_SETTINGS, invoke_without_command=True)
@click.version_option(__version__, "-V", "--version", prog_name="forge")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """leanforge: ship LLM-built changes only through locked acceptance tests.

    \b
      forge demo                          the whole loop on a fresh project, offline
      forge init                          write .forge/config.toml and PLAYBOOK.md
      forge spec "task"                   a spec-writer drafts the spec and tests; you approve
      forge spec "task" --tests T.py      or lock your own tests (red before green)
      forge build SLUG [--reviewers N]    engineer, gate, reviewers, merge, playbook
      forge gate SLUG                     run the hardened gate on a worktree by hand
      forge list / show SLUG / clean      inspect and tidy tasks
      forge board                         watch tasks and labs live in the browser
      forge lab init|check|lock|run|status|promote NAME   metric mode
      forge gh run --event PATH           the GitHub Action's entry point
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def _register() -> None:
    from leanforge.cli import board, build, demo, gate, gh, init, lab, spec, tasks

    cli.add_command(init.init)
    cli.add_command(spec.spec)
    cli.add_command(gate.gate)
    cli.add_command(build.build)
    cli.add_command(demo.demo)
    cli.add_command(lab.lab)
    cli.add_command(gh.gh)
    cli.add_command(tasks.list_tasks)
    cli.add_command(tasks.show)
    cli.add_command(tasks.clean)
    cli.add_command(board.board)


_register()


def main() -> None:
    try:
        cli.main(prog_name="forge")
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
