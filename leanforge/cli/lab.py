"""`forge lab ...`: metric mode. Evolve code against a locked evaluator.

The commands live in two modules: lab_setup.py (init, check, lock, unlock) and lab_run.py
(run, status, promote).
"""

from __future__ import annotations

import click

from leanforge.cli import lab_run, lab_setup
from leanforge.cli.common import CONTEXT_SETTINGS


@click.group(context_settings=CONTEXT_SETTINGS)
def lab() -> None:
    """Metric mode: agents evolve code against a locked evaluator.

    \b
      forge lab init NAME --eval CMD --metric M --direction min --edit 'src/*.py'
      forge lab check NAME       run the evaluator once on the current code
      forge lab lock NAME        lock the evaluator, its data and settings (sha256)
      forge lab run NAME -n 10   experiments: kept if better beyond the noise, else archived
      forge lab status NAME      the experiments, the best, a chart
      forge lab promote NAME     merge the best into the target branch
    """


for command in (
    lab_setup.init_cmd,
    lab_setup.check_cmd,
    lab_setup.lock_cmd,
    lab_setup.unlock_cmd,
    lab_run.run_cmd,
    lab_run.status_cmd,
    lab_run.promote_cmd,
):
    lab.add_command(command)
