"""Benchmark: how much of each prompt forge's cache_control placement lets the API serve from cache.

Runs a 20-turn engineer session with the real loop, the real SDK adapter, real sandboxed tools
and a real git repository, against forge's local Messages server (leanforge.agent.fake_server),
which simulates Anthropic's prompt cache from the breakpoints it receives (prefix hashes,
20-block lookback). Every turn reads or writes files and runs commands whose output is large
(``--output`` characters), so the conversation would grow without bound if nothing abridged it.

It reports, for forge's placement and, as a baseline in the same process, for caching only the
stable prefix (tools + system):

- cached share: input tokens read from the cache / all input tokens (goal >= 0.80);
- covered share: input tokens read from or written to the cache / all input tokens;
- bytes sent per turn: first, median, max and last request body, also for a third run that
  never abridges old tool output, to show what abridging bounds.

    python bench/cache.py [--turns 20] [--output 25000] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import pygit2

from leanforge.agent import anthropic_model, pricing
from leanforge.agent.anthropic_model import AnthropicModel
from leanforge.agent.fake_server import MessagesServer, Reply, reply, text, tool_use
from leanforge.agent.limits import Limits
from leanforge.agent.loop import Job, ToolLoop
from leanforge.agent.model import ModelRequest
from leanforge.agent.tools import Toolbox
from leanforge.agent.transcript import Redactor, Transcript
from leanforge.sandbox.factory import layout_for, make_executor
from leanforge.state import RepoPaths

EDITOR = "str_replace_based_edit_tool"
MODEL = "claude-sonnet-5-5"
#: Limits that never abridge, to show how the conversation would grow without it.
NO_ABRIDGING = {"high_water_chars": 10**12, "low_water_chars": 10**12}
SYSTEM = "You are the engineer. " + "Follow the playbook and the house conventions. " * 120


def turn_script(turns: int, output: int) -> list[Callable[[dict[str, Any]], Reply]]:
    """A plausible engineer: look around, write files, run big commands, submit."""

    def step(n: int) -> Callable[[dict[str, Any]], Reply]:
        def make(_: dict[str, Any]) -> Reply:
            if n == turns - 1:
                return reply([tool_use("submit_work", {"summary": "done"})])
            if n % 4 == 0:  # two parallel calls: a view and a command
                return reply(
                    [
                        text(f"Step {n}: looking around."),
                        tool_use(EDITOR, {"command": "view", "path": "."}),
                        tool_use("bash", {"command": f"python -c \"print('{n}' * {output})\""}),
                    ]
                )
            if n % 4 == 1:
                body = "\n".join(f"def f{n}_{i}(x):\n    return x + {i}\n" for i in range(40))
                return reply(
                    [tool_use(EDITOR, {"command": "create", "path": f"m{n}.py", "file_text": body})]
                )
            return reply(
                [tool_use("bash", {"command": f"python -c \"print('y' * {output})\"; ls"})]
            )

        return make

    return [step(n) for n in range(turns)]


def system_only(request: ModelRequest, ttl: str = "5m") -> dict[str, Any]:
    """The baseline: cache_control on the stable prefix only."""
    params = anthropic_model.request_params(request, ttl)
    for message in params["messages"]:
        for block in message["content"]:
            block.pop("cache_control", None)
    return params


def run(
    turns: int, output: int, placement: Callable[..., dict[str, Any]], abridge: bool = True
) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="forge-bench-cache-"))
    try:
        repo = pygit2.init_repository(str(root / "repo"), initial_head="main")
        paths = RepoPaths(
            workdir=Path(repo.workdir).resolve(), common_dir=Path(repo.path).resolve()
        )
        worktree = paths.worktree("bench")
        worktree.mkdir(parents=True)
        (worktree / "calc.py").write_text("def add(a, b):\n    return a - b\n")
        python = Path(sys.executable)
        executor = make_executor("auto", layout_for(paths, python), warn=lambda m: None)
        tools = Toolbox(
            worktree=worktree,
            executor=executor,
            python=python,
            scratch=root,
            source_env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
        )
        with MessagesServer(turn_script(turns, output)) as server:
            client = anthropic.Anthropic(api_key="bench", base_url=server.url, max_retries=0)
            with Transcript(root / "t.jsonl", Redactor()) as transcript:
                loop = ToolLoop(
                    AnthropicModel(client, placement=placement),
                    tools,
                    Limits(
                        max_turns=turns + 5, budget_usd=100.0, **({} if abridge else NO_ABRIDGING)
                    ),
                    pricing.price_for(MODEL).price,
                    transcript,
                )
                loop.run(Job("engineer", MODEL, SYSTEM, "Make add() add, then tidy up."))
            sizes = [len(r.raw) for r in server.message_requests()]
        usage = loop.usage
        return {
            "turns": loop.turns,
            "cached_share": round(usage.cache_read_tokens / usage.prompt_tokens, 3),
            "covered_share": round(
                (usage.cache_read_tokens + usage.cache_write_5m_tokens) / usage.prompt_tokens, 3
            ),
            "prompt_tokens": usage.prompt_tokens,
            "cost_usd": round(usage.cost_usd, 4),
            "bytes_per_turn": {
                "first": sizes[0],
                "median": int(statistics.median(sizes)),
                "max": max(sizes),
                "last": sizes[-1],
            },
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument(
        "--output", type=int, default=25_000, help="characters per big command output"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    forge = run(args.turns, args.output, anthropic_model.request_params)
    baseline = run(args.turns, args.output, system_only)
    unbounded = run(args.turns, args.output, anthropic_model.request_params, abridge=False)
    result = {
        "forge": forge,
        "baseline_system_only": baseline,
        "forge_without_abridging": unbounded,
        "goal_cached_share": 0.8,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    rows = (
        ("forge", forge),
        ("baseline (system only)", baseline),
        ("forge, no abridging", unbounded),
    )
    for name, r in rows:
        b = r["bytes_per_turn"]
        print(
            f"{name:24} cached {r['cached_share']:.1%}  covered {r['covered_share']:.1%}  "
            f"${r['cost_usd']:.4f}  bytes/turn first {b['first']:,} median {b['median']:,} "
            f"max {b['max']:,} last {b['last']:,}"
        )
    print(f"goal: cached share >= 80% -> {'met' if forge['cached_share'] >= 0.8 else 'NOT met'}")


if __name__ == "__main__":
    main()
