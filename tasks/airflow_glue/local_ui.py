"""The Airflow UI on this machine (``tryon airflow ui``): ``airflow standalone`` (api-server,
scheduler, dag-processor, triggerer, LocalExecutor) against the project-local Airflow home that
``tryon run`` uses, so the DAGs, their graphs, their trigger forms and the runs the CLI made are
all there. Its processes log to ``standalone.log`` in the Airflow home; the command prints the
address and the sign-in (Airflow's simple auth manager: user ``admin``, the password it
generated on first start) and stops every process it started on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

STARTUP_S = 300  # the api-server answers within a minute or two on 2 busy cores
STOP_S = 20  # then what still runs is killed
PASSWORDS = "simple_auth_manager_passwords.json.generated"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _stop(process: subprocess.Popen, *_: Any) -> None:
    """End the standalone's whole process group: SIGTERM, then SIGKILL after ``STOP_S``."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def serve(host: str, port: int) -> int:
    """Run the UI until Ctrl-C or SIGTERM (Airflow must be configured: ``configure_airflow``)."""
    home = Path(os.environ["AIRFLOW_HOME"])
    log = home / "standalone.log"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # standalone starts `airflow ...`
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    }
    url, started = f"http://{host}:{port}", time.monotonic()
    print(f"starting Airflow (api-server, scheduler, dag-processor, triggerer) on {home}; its log: {log}", flush=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "standalone"], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def stopped(*_: Any) -> None:  # out of whatever waits; the stopping is the ``finally``'s (a wait here would deadlock)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stopped)
    try:
        next_line = started + 10
        while not _answers(f"{url}/api/v2/monitor/health"):
            if process.poll() is not None or time.monotonic() - started > STARTUP_S:
                print(f"error: Airflow did not start (see {log})", file=sys.stderr)
                return 1
            time.sleep(1)
            if time.monotonic() >= next_line:
                print(f"  waiting for the api-server ({time.monotonic() - started:.0f} s)", flush=True)
                next_line += 10
        password = json.loads((home / PASSWORDS).read_text()).get("admin", "?") if (home / PASSWORDS).exists() else "?"
        print(f"Airflow UI: {url}/  (ready in {time.monotonic() - started:.0f} s)")
        print(f"sign in as admin, password {password} (kept in {home / PASSWORDS})")
        print("the DAGs: garment_drop, model_library, evaluate, rights; Ctrl-C stops Airflow", flush=True)
        process.wait()
        return 0 if process.returncode == 0 else 1
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(process)
        print("Airflow stopped", flush=True)
