"""The tests' forked commands (tests/forked_cli.py) behave as the command's own process would:
a process of their own, the command's environment and working folder, stdout and stderr apart,
the exit code; and a command whose Airflow is not the worker's runs as a plain subprocess."""

from __future__ import annotations

import os
from importlib.metadata import version

from tests import forked_cli


def test_a_forked_command_is_a_process_of_its_own_with_the_commands_environment(tmp_path):
    env = {**os.environ, "TRYON_ENGINE": "null"}
    shown = forked_cli.tryon(["--version"], env, cwd=str(tmp_path))
    assert (shown.returncode, shown.stderr) == (0, ""), shown.stderr
    assert shown.stdout == f"tryon-pipeline {version('tryon-pipeline')}, engine null (TRYON_ENGINE)\n"
    probe = (
        "import os, sys; print(os.getpid(), os.getcwd(), os.environ['PROBE']); print('to stderr', file=sys.stderr); sys.exit(3)"
    )
    first, second = (forked_cli.python(probe, {**os.environ, "PROBE": str(n)}) for n in (1, 2))
    assert (first.returncode, first.stderr) == (3, "to stderr\n")
    (pid, cwd, seen), (other_pid, _, other_seen) = first.stdout.split(), second.stdout.split()
    zygote = forked_cli._zygote
    assert zygote is not None and zygote.process.poll() is None, "the forks came from the worker's zygote"
    assert len({pid, other_pid, str(os.getpid()), str(zygote.process.pid)}) == 4
    assert (seen, other_seen, cwd) == ("1", "2", os.getcwd())
    refused = forked_cli.tryon(["run", "--date", "2026-13-01"], env)
    assert refused.returncode == 2 and "2026-13-01" in refused.stderr and refused.stdout == ""


def test_a_command_with_another_airflow_runs_as_a_plain_process(tmp_path):
    zygote = forked_cli._forked(dict(os.environ))
    assert zygote is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")} | {"TRYON_HOME": str(tmp_path)}
    assert forked_cli._forked(env) is None, "without AIRFLOW_HOME the command puts Airflow in its TRYON_HOME"
    assert forked_cli._forked({**os.environ, "AIRFLOW__CORE__PARALLELISM": "3"}) is None
    shown = forked_cli.python("import os; print(os.getppid())", env)
    assert shown.stdout.strip() == str(os.getpid()), "a child of the test's own process"
