"""The work counter (locked with the evaluator): run the candidate under sys.settrace, print JSON.

bench/evaluate.py starts this file with ``run_candidate`` (so it cannot reach forge's metric
channel), writes a nonce and the sizes to its stdin, and reads one JSON line from its stdout:
``{"nonce": ..., "answers": [count_primes(n) for n in sizes], "work": N}``, where N is the
number of Python line events executed in the candidate's own files (everything under the
current directory but this file), the import of ``primes`` included.
"""

import json
import os
import sys
import threading

ROOT = os.path.realpath(os.getcwd())
ME = os.path.realpath(__file__)
request = json.loads(sys.stdin.readline())  # read before any candidate code runs
sys.path.insert(0, ROOT)

work = 0
counted: dict[str, bool] = {}


def _line(frame, event, arg):
    global work
    if event == "line":
        work += 1
    return _line


def _call(frame, event, arg):
    name = frame.f_code.co_filename
    mine = counted.get(name)
    if mine is None:
        path = os.path.realpath(name)
        mine = counted[name] = path.startswith(ROOT + os.sep) and path != ME
    return _line if mine else None


threading.settrace(_call)
sys.settrace(_call)
import primes  # noqa: E402  (imported under the tracer: import-time work counts too)

answers = [primes.count_primes(n) for n in request["sizes"]]
sys.settrace(None)
threading.settrace(None)
print(json.dumps({"nonce": request["nonce"], "answers": answers, "work": work}))
