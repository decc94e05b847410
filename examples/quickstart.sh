#!/usr/bin/env bash
# A two-minute, offline tour of forge's human path in a throwaway repository:
# lock a test, watch the gate refuse wrong code and a cheat, then pass the honest fix.
# Usage: bash examples/quickstart.sh [DIR]     (FORGE=... overrides the forge command)
set -euo pipefail

FORGE=${FORGE:-forge}
dir=${1:-$(mktemp -d "${TMPDIR:-/tmp}/forge-quickstart.XXXXXX")}
mkdir -p "$dir" && cd "$dir"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "a project with a bug: add() subtracts"
git init -q -b main
git config user.name "Quickstart" && git config user.email "quickstart@example.invalid"
printf 'def add(a, b):\n    return a - b\n' > calc.py
printf '__pycache__/\nholdout/\n' > .gitignore
git add -A && git commit -qm "calc with a bug"
$FORGE init

say "the acceptance test you want to hold the change to (and one held-out test)"
mkdir -p tests holdout
printf 'from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n' > tests/test_calc.py
printf 'from calc import add\n\n\ndef test_add_commutes():\n    assert add(4, 1) == add(1, 4) == 5\n' > holdout/test_holdout.py
cat tests/test_calc.py

say "forge spec: lock the tests (sha256), branch forge/<slug>, worktree; they must fail on base"
slug=$($FORGE spec "make add add" --tests tests/test_calc.py --holdout holdout/test_holdout.py)
worktree=$($FORGE show "$slug" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["worktree"])')
echo "task $slug lives in $worktree"

say "a wrong implementation: the gate fails and names the test"
printf 'def add(a, b):\n    return a * b\n' > "$worktree/calc.py"
if $FORGE gate "$slug"; then echo "unexpected: wrong code passed"; exit 1; fi

say "wrong code plus a cheat: a conftest.py that forces every test to pass"
cat > "$worktree/conftest.py" <<'PY'
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    outcome.get_result().outcome = "passed"
PY
if $FORGE gate "$slug"; then echo "unexpected: the cheat passed"; exit 1; fi

say "the honest fix: the gate passes"
rm "$worktree/conftest.py"
printf 'def add(a, b):\n    return a + b\n' > "$worktree/calc.py"
$FORGE gate "$slug"
$FORGE show "$slug"

say "done: the tour's repository is $dir"
