"""The lab's evaluator: check count_primes() and report ``work``, the Python lines it ran.

Forge runs this file (locked by sha256, restored before every run) with the candidate's
worktree as the current, read-only directory, and reads the metric only from ``report()``.

Why the measure is deterministic: ``work`` counts line events (``sys.settrace``) in the
candidate's own files while it computes fixed inputs, so it depends only on the code and the
interpreter, never on the machine's load or clock. Every run of the same code reports the same
number, the noise floor is 0, and any real reduction counts. Wall-clock time would be the more
natural measure, but it is noisy, and a small example with noisy numbers would show nothing.
Counting lines rewards doing less Python work; moving work into C (a builtin, a library)
counts as less work too, which is usually, but not always, faster. Another Python version may
count differently, so compare numbers from one interpreter only.

The honest limit: the counter runs *in the candidate's process* (bench/count_work.py imports
the candidate to trace it). Candidate code could switch the tracer off, rewrite the counter,
find the nonce in a frame, or print its own result line and exit. run_candidate() keeps it
away from forge's metric channel, and the answer check below keeps it honest about the
results, but nothing here stops it from lying about its own work: that is left to the
reviewers of `forge lab promote --reviewers N` and to whoever reads the diff.
"""

import json
import secrets
import sys

from leanforge.lab import report, run_candidate

# count_primes(n) for each n: the number of primes below n.
EXPECTED = {0: 0, 1: 0, 2: 0, 3: 1, 10: 4, 100: 25, 1000: 168, 2000: 303}

nonce = secrets.token_hex(16)
request = json.dumps({"nonce": nonce, "sizes": list(EXPECTED)})
done = run_candidate([sys.executable, "bench/count_work.py"], input=request + "\n", timeout=120)
if done.returncode != 0:
    sys.exit(f"the candidate crashed: {done.stderr.strip()[-800:]}")
try:
    result = json.loads(done.stdout.strip().splitlines()[-1])
except (IndexError, ValueError):
    sys.exit(f"the work counter printed no result: {done.stdout.strip()[-300:]!r}")
if not isinstance(result, dict) or result.get("nonce") != nonce:
    sys.exit("the last line of output is not the work counter's (wrong nonce)")
answers = result.get("answers")
if not isinstance(answers, list) or len(answers) != len(EXPECTED):
    sys.exit(f"the work counter returned {answers!r}, not {len(EXPECTED)} answers")
for (n, want), got in zip(EXPECTED.items(), answers, strict=True):
    if got != want:
        sys.exit(f"wrong answer: count_primes({n}) returned {got!r}, expected {want}")
report(work=float(result["work"]))
