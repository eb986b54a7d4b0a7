"""`tryon airflow ui` from the outside: start it on a fresh home, sign in with what it printed,
open garment_drop's graph and its trigger form in headless Chromium (screenshots for
docs/pipeline.md), then SIGTERM it and check that every process it started is gone.

    .venv/bin/python bench/airflow_ui.py [--out docs] [--port 8097]

Prints the seconds to the UI and to a clean stop. Not in the test suite: Airflow's whole
standalone takes a minute or two to start on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="where the screenshots go")
    parser.add_argument("--port", type=int, default=8097)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tryon-ui-")) / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRYON_", "AIRFLOW"))} | {"TRYON_HOME": str(home)}
    started = time.monotonic()
    ui = subprocess.Popen(
        [sys.executable, "-m", "tasks.cli", "airflow", "ui", "--port", str(args.port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert ui.stdout is not None
    lines = []
    for line in ui.stdout:
        lines.append(line)
        print(line, end="", flush=True)
        if "sign in as admin" in line or "error:" in line:
            break
    ready = time.monotonic() - started
    found = re.search(r"password (\S+)", "".join(lines))
    if found is None:
        ui.kill()
        return 1
    base = f"http://127.0.0.1:{args.port}"
    try:
        screenshots(base, found.group(1), args.out)
    finally:
        started_processes = psutil.Process(ui.pid).children(recursive=True)
        stop = time.monotonic()
        ui.send_signal(signal.SIGTERM)
        ui.wait(60)
        _, alive = psutil.wait_procs(started_processes, timeout=15)
        stopped = time.monotonic() - stop
        left = [p.pid for p in alive]
    print(
        f"UI ready in {ready:.0f} s; stopped in {stopped:.1f} s; {len(started_processes)} processes started, left running: {left}"
    )
    return 0 if not left else 1


def screenshots(base: str, password: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(base + "/")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", password)
        page.keyboard.press("Enter")
        page.wait_for_url(base + "/")
        page.goto(base + "/dags/garment_drop")
        page.wait_for_selector("text=check_model_version")
        page.click("button[aria-label='Show Graph (Press g)']")
        page.wait_for_selector(".react-flow__node")
        page.click("button[aria-label='Collapse Details Panel']")
        page.set_viewport_size({"width": 2200, "height": 560})
        page.wait_for_timeout(1000)
        page.click(".react-flow__controls-fitview")
        page.wait_for_timeout(1500)
        page.screenshot(path=str(out / "airflow-graph.png"))
        page.set_viewport_size({"width": 1400, "height": 900})
        page.click("button[aria-label='Trigger Dag']")
        page.wait_for_timeout(3000)
        page.screenshot(path=str(out / "airflow-trigger-form.png"))
        browser.close()
    print(f"screenshots: {out / 'airflow-graph.png'}, {out / 'airflow-trigger-form.png'}")


if __name__ == "__main__":
    raise SystemExit(main())
