"""The tryon command as a person runs it."""

import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from tasks.cli import build_parser
from tasks.images import decode_rgb
from tasks.shipped_models import SHIPPED
from tests.conftest import cli_env


def tryon(*args, cwd, home, **env):
    return subprocess.run(
        [sys.executable, "-m", "tasks.cli", *args], cwd=cwd, env=cli_env(home, **env), capture_output=True, text=True, timeout=600
    )


def test_help_names_every_command():
    text = build_parser().format_help()
    for command in ("demo", "run", "status", "library", "models"):
        assert command in text


def test_version_names_the_package_and_the_engine_in_use(tmp_path):
    from importlib.metadata import version

    result = tryon("--version", cwd=tmp_path, home=tmp_path / "home", TRYON_ENGINE="ladi-vton")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"tryon-pipeline {version('tryon-pipeline')}, engine ladi-vton (TRYON_ENGINE)\n"


def test_bad_date_is_refused_clearly(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--date", "2026-13-01"])
    assert "expected a date as YYYY-MM-DD" in capsys.readouterr().err


def test_status_of_an_unknown_date(tmp_path):
    result = tryon("status", "--date", "2026-01-01", cwd=tmp_path, home=tmp_path / "home")
    assert result.returncode == 1 and "no garments recorded for drop 2026-01-01" in result.stdout


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo run once for this module's tests: (its folder, its home, the command's result)."""
    folder = tmp_path_factory.mktemp("demo")
    return folder, folder / "home", tryon("demo", "--date", "2026-11-20", cwd=folder, home=folder / "home")


@pytest.mark.airflow
def test_demo_end_to_end_then_status_and_sheets(demo):
    tmp_path, home, demo = demo
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "images made by warp-baseline-1.0.0: PREVIEW (nothing published without a reviewer)" in demo.stdout
    # in words at the end: what reached the storefront, what waits for review and why, where review happens
    assert "storefront: nothing images published for drop 2026-11-20" not in demo.stdout
    assert "storefront: nothing published for drop 2026-11-20" in demo.stdout
    assert "generations wait for a reviewer: " in demo.stdout and "failed QC" in demo.stdout
    assert "open the review page: tryon review serve, then http://127.0.0.1:8090/dates/2026-11-20" in demo.stdout
    # a line of progress at least every 10 s (the stages' lines, and the ticker's between them)
    assert "  preprocess_garments (part 0): " in demo.stdout and "model_library run state: success (" in demo.stdout
    out = tmp_path / "demo-output"
    manifest = json.loads((out / "manifest.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["garments_by_state"]["quarantined"] == 2  # the broken upload and the one without category
    assert sum(summary["garments_by_state"].values()) == summary["inputs"] == 9
    # "flagged" said apart: failed QC, or passed QC of a sample photo whose release allows previews
    # only (samples/releases.csv: they are research photos, not the project's to publish)
    assert sum(summary["flagged_by_cause"].values()) == summary["generations_by_state"]["flagged"]
    assert set(summary["flagged_by_cause"]) <= {"failed_qc", "no_release", "replaces_approved"}
    report = (tmp_path / "demo-output" / "report.html").read_text()
    assert 'id="flagged-causes"' in report and 'id="photo-rights"' in report
    assert summary["photos_without_rights"] and all(
        why.startswith("release SAMPLE-RESEARCH-USE of photo ") and "does not cover the channel ecommerce" in why
        for why in summary["photos_without_rights"].values()
    )
    assert "whose release keeps their images off the storefront (previews and evaluation only" in demo.stdout
    assert manifest["count"] == len(manifest["items"]) == 0, "the demo's engine is a preview: nothing is published"
    review = out / "review" / "2026-11-20"
    waiting = sorted(p for p in review.rglob("*.jpg") if p.parent.parent.parent.name != "looks")
    assert len(waiting) == summary["generations_by_state"]["flagged"] > 0
    for path in waiting:
        assert decode_rgb(path.read_bytes()).shape == (1024, 768, 3)
    # a preview engine makes no full-outfit images unless asked (TRYON_OUTFITS): the demo shows the pipeline
    assert not (review / "looks").exists() and summary["looks"]["outfits"] == []
    # ...and so no looks model, which only full outfits would use (nothing of the demo reaches the
    # storefront, whose garments look files list): the library build is told to leave the looks alone
    assert "looks: the demo trains no looks model, which only full outfits would use here: warp-baseline" in demo.stdout
    assert not (home / "s3" / "tryon" / "library" / "outfits.parquet").exists()
    assert 'src="thumbs/' in (out / "report.html").read_text() and len(list((out / "thumbs").glob("*.jpg"))) >= 1
    shown = sum(n for state, n in summary["generations_by_state"].items() if state in ("published", "flagged"))
    # the thumbnails of the generations, and the histograms
    _report_renders_in_chromium(out / "report.html", tmp_path / "report.png", shown + 1)
    print("demo generations by state:", summary["generations_by_state"])

    status = tryon("status", "--date", "2026-11-20", cwd=tmp_path, home=home)
    assert status.returncode == 0
    assert "9 garments" in status.stdout and "TEE-BROKEN" in status.stdout and "quarantined" in status.stdout

    sheet = tryon("library", "sheet", "--out", str(tmp_path / "sheet.png"), cwd=tmp_path, home=home)
    assert sheet.returncode == 0, sheet.stderr[-2000:]
    library_sheet = decode_rgb((tmp_path / "sheet.png").read_bytes())
    assert library_sheet.shape[1] == 1680 and library_sheet.shape[0] >= 64 + 7 * 400  # a header, then a row per photo
    garments = tryon("garments", "sheet", "2026-11-20", cwd=tmp_path, home=home)
    assert garments.returncode == 0, garments.stderr[-2000:]
    garment_sheet = decode_rgb((tmp_path / "garments-2026-11-20.png").read_bytes())
    assert garment_sheet.shape[1] == 1680 and garment_sheet.shape[0] >= 64 + 9 * 400  # a row per garment of the drop

    # the embedded S3 keeps its objects as files in the home folder: the sheets' commands above
    # read the demo's bucket in later processes (that a re-run of a date changes nothing is
    # tests/test_garment_drop_dag.py's)
    assert json.loads((home / "s3" / "tryon" / "storefront" / "manifests" / "2026-11-20.json").read_text()) == manifest
    review_key = waiting[0].relative_to(out).as_posix()
    assert np.array_equal(decode_rgb((home / "s3" / "tryon" / review_key).read_bytes()), decode_rgb(waiting[0].read_bytes()))


@pytest.mark.airflow
def test_evaluate_baseline_against_random_ladi_vton_on_the_library_set(demo):
    """`tryon evaluate` in the demo setting: the warp baseline and a random-weight LaDI-VTON on the
    set made from the demo's library, random feature networks; the figures in the ledger, the
    page opened in Chromium with every image decoded."""
    tmp_path, home, _ = demo
    weights = tryon("models", "random", "--out", str(tmp_path / "weights"), cwd=tmp_path, home=home)
    assert weights.returncode == 0, weights.stderr[-2000:]
    registry = str(tmp_path / "weights" / "models.yaml")
    run = tryon(
        "evaluate",
        "--versions",
        "warp-baseline",
        "ladi-vton:inference_steps=2",
        "--categories",
        "upper_body",
        "--limit",
        "2",
        "--id",
        "e2e",
        cwd=tmp_path,
        home=home,
        TRYON_MODEL_REGISTRY=registry,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    print(run.stdout)
    assert "note: ladi-vton:inference_steps=2 runs on random weights" in run.stdout
    assert "hold random weights: FID, KID and LPIPS here check the machinery, not quality" in run.stdout
    out = tmp_path / "evaluation-output" / "e2e"
    summary = json.loads((out / "results.json").read_text())
    ladi = {v["spec"]: v for v in summary["versions"]}["ladi-vton:inference_steps=2"]
    [upper] = ladi["categories"]
    assert (upper["category"], upper["paired"], upper["unpaired"]) == ("upper_body", 2, 2)
    assert upper["fid"] > 0 and upper["kid_subset_size"] == 2 and 0 < upper["ssim"] < 1 and upper["lpips"] > 0
    assert upper["qc_checked"] == 4 and upper["qc_passed"] == 0, "random-weight noise never passes QC"
    assert ladi["engine"]["random_weights"] and ladi["engine"]["model_version"] == "ladi-vton-vitonhd-random-weights"

    from tasks.ledger import EvaluationRow, open_ledger

    with open_ledger(f"sqlite:///{home / 'ledger.db'}").session() as session:
        rows = {(r.version, r.category): r for r in session.query(EvaluationRow).filter_by(evaluation_id="e2e")}
    assert set(rows) == {("warp-baseline", "upper_body"), ("ladi-vton:inference_steps=2", "upper_body")}
    assert rows["ladi-vton:inference_steps=2", "upper_body"].fid == pytest.approx(upper["fid"])
    assert rows["warp-baseline", "upper_body"].baseline and rows["ladi-vton:inference_steps=2", "upper_body"].random_weights

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto((out / "index.html").as_uri())
        page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=30_000)
        assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        # a row per slot: photo, garment, one cell per version (an image, or why there is none)
        assert page.locator("#grid tr").count() == 1 + 4
        assert page.locator("#grid img").count() >= 4 * 2 + 4  # the inputs and the random LaDI-VTON's images at least
        table = page.inner_text("#metrics")
        assert "LaDI-VTON (published)" in table and "0.860" in table and "14.65 unpaired" in table and "36.1" in table
        assert "random weights" in page.inner_text("#not-meaningful")
        page.screenshot(path=str(tmp_path / "evaluation.png"), full_page=True)
        browser.close()


def _report_renders_in_chromium(report, screenshot, images_expected):
    """The demo's report opened in headless Chromium: every thumbnail and the histogram image
    decoded, the stage table filled, and a full-page screenshot that is not blank."""

    from playwright.sync_api import sync_playwright

    assert shutil.which("chromium"), "Debian's chromium is needed (make test installs it)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(report.as_uri())
        images = page.locator("img")
        assert images.count() == images_expected
        # thumbnails load lazily (a page of 200 paints before its last one arrives): ask for all of them
        page.evaluate("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
        page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=30_000)
        assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        assert page.locator("#qc-histograms").evaluate("i => i.naturalWidth") > 600
        stages = page.inner_text("#stages")
        for stage in ("discover", "validate", "check_inputs", "match", "tryon", "qc", "publish"):
            assert stage in stages
        assert "upper_body" in page.inner_text("#by-category")
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    shot = decode_rgb(screenshot.read_bytes())
    assert shot.shape[0] > 2000 and shot.shape[1] >= 1280
    assert (shot.std(axis=2) > 20).mean() > 0.01, "coloured thumbnails and plots, not just text"


def test_models_commands_write_convert_hash_and_verify(tmp_path):
    import yaml

    weights = tmp_path / "weights"
    made = tryon("models", "random", "--out", str(weights), cwd=tmp_path, home=tmp_path / "home")
    assert made.returncode == 0 and "outputs made with it are noise" in made.stdout, made.stderr[-2000:]
    registry = yaml.safe_load((weights / "models.yaml").read_text())["models"]
    hashed = tryon("models", "hash", str(weights / "sd2-inpainting"), cwd=tmp_path, home=tmp_path / "home")
    assert hashed.stdout.strip() == registry["sd2-inpainting"]["sha256"]
    converted = tryon("models", "convert", str(weights / "warping_vitonhd.pth"), cwd=tmp_path, home=tmp_path / "home")
    assert "dropped non-tensor entries: epoch" in converted.stdout and (weights / "warping_vitonhd.safetensors").exists()

    env = {**os.environ, "TRYON_MODEL_REGISTRY": str(weights / "models.yaml")}
    listed = subprocess.run(
        [sys.executable, "-m", "tasks.cli", "models", "list"], env=env, capture_output=True, text=True, timeout=120
    )
    assert set(json.loads(listed.stdout)) == set(registry) | set(SHIPPED), "the registry's entries and the shipped models"
    assert {"fid-inception-v3", "lpips-alexnet"} <= set(registry), "random feature networks for tryon evaluate too"
    registry["ladi-vton-emasc-vitonhd"]["sha256"] = "0" * 64
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"models": registry}))
    env["TRYON_MODEL_REGISTRY"] = str(tmp_path / "bad.yaml")
    env["TRYON_HOME"] = str(tmp_path / "home")
    pulled = subprocess.run(
        [sys.executable, "-m", "tasks.cli", "models", "pull", "ladi-vton-emasc-vitonhd"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pulled.returncode == 2 and "error: model 'ladi-vton-emasc-vitonhd': sha256 of" in pulled.stderr


@pytest.mark.airflow
@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGINT])
def test_a_run_stops_within_seconds_on_sigterm_and_ctrl_c(demo, sent):
    """``tryon run`` stops within 5 s of SIGTERM or SIGINT while Airflow holds the process (here
    its drop-wait sensor), says so, and releases its lease on the date (``tasks.stopping``)."""
    import sqlite3
    import time

    tmp_path, home, _ = demo
    date = "2026-11-29"
    run = subprocess.Popen(
        [sys.executable, "-m", "tasks.cli", "run", "--date", date, "--wait", "600"],
        cwd=tmp_path,
        env=cli_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert run.stdout is not None
    seen = []
    for line in run.stdout:  # until the run is inside Airflow, waiting for the marker, and counting down
        seen.append(line)
        if f"drop {date}: waiting for drops/{date}/_READY, " in line and line.endswith(" s left\n"):
            break
    assert "waiting up to 600 s for it" in "".join(seen)
    with sqlite3.connect(home / "ledger.db") as ledger:
        assert ledger.execute("select count(*) from run_leases where drop_date = ?", (date,)).fetchone()[0] == 1
    sent_at = time.monotonic()
    run.send_signal(sent)
    rest = run.communicate(timeout=30)[0]
    assert time.monotonic() - sent_at < 5, "".join(seen) + rest
    assert run.returncode == 128 + sent and f"stopped by {signal.Signals(sent).name}" in rest, rest
    with sqlite3.connect(home / "ledger.db") as ledger:
        assert ledger.execute("select count(*) from run_leases where drop_date = ?", (date,)).fetchone()[0] == 0
