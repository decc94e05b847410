#!/usr/bin/env bash
# The metric lab, offline, in a throwaway repository: a deliberately slow prime counter, a
# locked deterministic evaluator, three scripted experiments (one kept, one that gives wrong
# answers, then its fix, kept), the director and the critic, and a promotion into main.
# The agents replay examples/lab/script.json, so no model is called and no key is needed;
# git, the lock, the sandbox, the evaluator and pytest are all real.
# Usage: bash examples/lab/run.sh [DIR]     (FORGE=... overrides the forge command)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FORGE=${FORGE:-forge}
dir=${1:-$(mktemp -d "${TMPDIR:-/tmp}/forge-lab.XXXXXX")}
if [ -e "$dir/.git" ]; then
  echo "$dir is already a git repository; give a new or empty folder" >&2
  exit 2
fi
mkdir -p "$dir" && cp -R "$here/project/." "$dir/" && cd "$dir"
export FORGE_BACKEND=scripted FORGE_SCRIPT="$here/script.json"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "a project with a slow count_primes() and its tests"
git init -q -b main
git config user.name "Lab example" && git config user.email "lab@example.invalid"
git add -A && git commit -qm "primes: a slow prime counter"
sed -n '/^def /,$p' primes.py

say "forge lab init: the evaluator, the metric to minimize, the one file workers may edit"
$FORGE lab init primes --eval "python bench/evaluate.py" --eval-file bench/count_work.py \
  --metric work --direction min --edit primes.py --timeout 120 \
  --goal "Make count_primes() run fewer Python lines, keeping every answer right."
# [run] is not locked: ask the director for notes after 3 experiments (the default is 5).
toml=.forge/labs/primes/lab.toml
sed 's/^director_every = .*/director_every = 3/' "$toml" > "$toml.new" && mv "$toml.new" "$toml"
git add .forge && git commit -qm "lab primes: evaluator settings and task"
cat "$toml"

say "forge lab check: the evaluator on the starting code (sandboxed, worktree read-only)"
$FORGE lab check primes

say "forge lab lock: sha256 over bench/evaluate.py, bench/count_work.py and the [lab] settings"
$FORGE lab lock primes

say "forge lab run -n 3: a baseline, then three experiments, the director and the critic"
$FORGE lab run primes -n 3

say "forge lab status"
$FORGE lab status primes

say "forge lab promote: the project's tests on the merged tree, then a merge into main"
$FORGE lab promote primes
git log --graph --oneline main -7
git log -1 --format='%n%B' main

say "done: the lab's repository is $dir"
