"""``tryon`` commands for the tests, each in a process of its own, forked from a warm one.

A fresh ``python -m tasks.cli run`` spent about 17 of its 27 s (a re-run with nothing to do)
importing Airflow, torch, Great Expectations and rembg and building the execution API's routers
before its first task; the suite runs some forty such commands. So each xdist worker starts one
*zygote* process that does that once (:func:`preload`) and then forks a child per command. The
child is a process like the command's own: its own pid, the command's environment, working
folder and arguments (``sys.argv``), ``tasks.cli.main`` run as ``python -m tasks.cli`` runs it,
its stdout and stderr apart, its exit code, the interpreter's exit functions at the end. What
differs: the modules are already imported, with the Airflow configuration of the worker.

So a command whose Airflow settings (``AIRFLOW_HOME``, ``AIRFLOW__*``) are not the worker's
runs as a plain subprocess, as does every command when the zygote cannot be forked safely
(a thread running after the preload). Tests that kill or signal a command start it themselves.

``python -m tests.forked_cli SOCKET`` is the zygote."""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _airflow_settings(env: dict[str, str]) -> dict[str, str]:
    """The variables Airflow reads once, at import: its home and configuration (connections and
    variables from the environment are read when used)."""
    return {k: v for k, v in env.items() if k == "AIRFLOW_HOME" or k.startswith("AIRFLOW__")}


def _same_airflow(env: dict[str, str], zygote: dict[str, str]) -> bool:
    """Whether a command with ``env`` finds Airflow as a zygote started with ``zygote`` configured
    it: the same home named (without one a command puts Airflow's home in its TRYON_HOME) and the
    same settings."""
    return "AIRFLOW_HOME" in env and _airflow_settings(env) == _airflow_settings(zygote)


def preload() -> None:
    """Import what the commands import (the DAGs' modules, ``tasks.airflow_glue.preload``'s) and build
    the execution API they build first, without starting a thread."""
    from tasks.airflow_glue import preload as task_modules
    from tasks.airflow_glue.runner import DAGS_FOLDER, configure_airflow, warm_execution_api
    from tasks.settings import get_settings

    configure_airflow(get_settings())
    from airflow.dag_processing.dagbag import DagBag

    DagBag(dag_folder=str(DAGS_FOLDER))  # the DAG files' own imports
    task_modules.preload()
    warm_execution_api()


def _child(conn: Connection, request: dict[str, Any]) -> None:
    """The forked command: never returns."""
    code = 1
    try:
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(target, fd)
            os.close(target)
        sys.argv = ["-c"] if request["code"] is not None else ["tryon", *request["argv"]]
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the command waits for children of its own
        conn.send({"pid": os.getpid()})
        from tasks.cli import main

        try:
            if request["code"] is not None:  # python -c CODE
                exec(compile(request["code"], "<string>", "exec"), {"__name__": "__main__"})  # noqa: S102
                code = 0
            else:
                code = main(request["argv"])
        except SystemExit as leaving:  # as the interpreter turns it into an exit code
            code = leaving.code if isinstance(leaving.code, int) else (0 if leaving.code is None else 1)
            if not isinstance(leaving.code, int | None):
                print(leaving.code, file=sys.stderr)
        atexit._run_exitfuncs()
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: S110 - a closed stream: nothing left to flush
                pass
        try:
            conn.send({"code": code})
        finally:
            os._exit(code or 0)


def serve(address: str, authkey: bytes) -> None:
    """The zygote: preload, then fork a child per request until told to stop (``None``)."""
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: gone with the test worker that started it
    preload()
    if threading.active_count() != 1:
        print(f"unsafe to fork: threads {[t.name for t in threading.enumerate()]}", flush=True)
        return
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    with Listener(address, "AF_UNIX", authkey=authkey) as listener:
        print("ready", flush=True)
        while True:
            conn = listener.accept()
            request = conn.recv()
            if request is None:
                return
            sys.stdout.flush()
            if os.fork() == 0:
                listener.close()
                _child(conn, request)
            conn.close()


class Zygote:
    """The client: one zygote per test process, started on first use, stopped at exit."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="tryon-zygote-"))
        self.address, self.authkey = str(self.folder / "socket"), secrets.token_bytes(16)
        self.env = dict(os.environ)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.forked_cli", self.address],
            cwd=REPO,
            env={**self.env, "TRYON_ZYGOTE_KEY": self.authkey.hex()},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        said = self.process.stdout.readline().strip()
        atexit.register(self.stop)
        if said != "ready":  # a slow suite, not a wrong one, but say so: the zygote's error is above
            raise RuntimeError(f"the tests' zygote did not start: {said or 'it exited'}")

    def takes(self, env: dict[str, str]) -> bool:
        return _same_airflow(env, self.env) and self.process.poll() is None

    def run(
        self, argv: list[str], env: dict[str, str], timeout: float, cwd: str | None = None, code: str | None = None
    ) -> subprocess.CompletedProcess:
        out, err = (self.folder / f"{secrets.token_hex(6)}.{name}" for name in ("out", "err"))
        request = {"argv": argv, "code": code, "env": env, "cwd": cwd or os.getcwd(), "stdout": str(out), "stderr": str(err)}
        command = ["python", "-c", code] if code is not None else ["tryon", *argv]
        with Client(self.address, "AF_UNIX", authkey=self.authkey) as conn:
            conn.send(request)
            pid = conn.recv()["pid"]
            if not conn.poll(timeout):
                os.kill(pid, signal.SIGKILL)
                raise subprocess.TimeoutExpired(command, timeout)
            try:
                returncode = conn.recv()["code"]
            except EOFError:  # killed before it could say
                returncode = -signal.SIGKILL
        stdout, stderr = out.read_text(errors="replace"), err.read_text(errors="replace")
        out.unlink()
        err.unlink()
        return subprocess.CompletedProcess(command, returncode, stdout, stderr)

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                with Client(self.address, "AF_UNIX", authkey=self.authkey) as conn:
                    conn.send(None)
                self.process.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


_zygote: Zygote | None = None


def _forked(env: dict[str, str]) -> Zygote | None:
    """The worker's zygote, when it can run a command with environment ``env`` (started for the
    first such command: a process whose commands all keep Airflow elsewhere starts none)."""
    global _zygote
    if _zygote is None:
        if not _same_airflow(env, dict(os.environ)):
            return None
        _zygote = Zygote()
    return _zygote if _zygote.takes(env) else None


def tryon(argv: list[str], env: dict[str, str], timeout: float = 600, cwd: str | None = None) -> subprocess.CompletedProcess:
    """``tryon ARGV`` with environment ``env``, as ``subprocess.run`` with captured text output
    would run it (forked from the worker's zygote where it can be)."""
    if zygote := _forked(env):
        return zygote.run(argv, env, timeout, cwd)
    command = [sys.executable, "-m", "tasks.cli", *argv]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def python(code: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -c CODE`` with environment ``env``, as :func:`tryon` runs a command."""
    if zygote := _forked(env):
        return zygote.run([], env, timeout, code=code)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)


if __name__ == "__main__":
    serve(sys.argv[1], bytes.fromhex(os.environ.pop("TRYON_ZYGOTE_KEY")))
