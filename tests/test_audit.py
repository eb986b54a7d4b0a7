"""``tryon audit``: every way the ledger and the objects can disagree is found, and ``--repair``
leaves a date that audits clean with a manifest that points only at objects that exist."""

from __future__ import annotations

import json
import subprocess
import sys

from tasks.audit import audit, audit_and_repair
from tasks.credentials import REVIEWED, read_credentials
from tasks.ledger import Garment, Generation
from tasks.review import decisions
from tasks.storage import credentialed_key, review_key, storefront_key, storefront_manifest_key
from tests.conftest import REPO, TEST_SIGNING, cli_env, flagged_generations, put_jpeg, put_tryon_inputs, storefront_copy_of

DATE = "2026-11-20"


def _kinds(findings) -> dict[str, list[str | None]]:
    found: dict[str, list[str | None]] = {}
    for finding in findings:
        found.setdefault(finding.kind, []).append(finding.key)
    return found


def test_audit_finds_each_fault_and_repair_puts_it_right(ctx):
    a, b, c = (flagged_generations(ctx, 1, photo=photo)[0] for photo in ("pa", "pb", "pc"))
    lost_flagged, kept_flagged = flagged_generations(ctx, 2, photo="pd")
    for gid in (a, b, c):
        decisions.approve(ctx, gid, "ana")
    assert audit(ctx, DATE) == []

    ctx.store.delete(storefront_key("TEE-1", "pa"))  # a storefront copy lost
    ctx.store.put_bytes(storefront_key("TEE-1", "pb"), b"an older image")  # a copy a crash interrupted
    with ctx.ledger.session() as session:
        lost_published = session.get(Generation, c).object_key
        lost_flagged_key = session.get(Generation, lost_flagged).object_key
        review = review_key(DATE, "TEE-1", "pd", kept_flagged)
    ctx.store.delete(lost_published)  # the generation's own image lost
    ctx.store.delete(lost_flagged_key)
    ctx.store.delete(review)
    ctx.store.put_bytes(storefront_key("TEE-1", "ghost"), b"no publication")  # an orphan on the storefront
    ctx.store.put_bytes("generations/v1/TEE-1/pa/0123456789abcdef.jpg", b"no row")  # an orphan generation
    manifest = ctx.store.get_json(storefront_manifest_key(DATE))
    manifest["items"].append({**manifest["items"][0], "key": "storefront/TEE-1/nothing.jpg", "generation_id": "x"})
    ctx.store.put_json(storefront_manifest_key(DATE), manifest)

    found = _kinds(audit(ctx, DATE))
    assert found == {
        "storefront_missing": [storefront_key("TEE-1", "pa")],
        "storefront_stale": [storefront_key("TEE-1", "pb")],
        "generation_lost": [lost_published, lost_flagged_key],  # in the order of their ids
        "review_copy_missing": [review],
        "manifest_entry_without_object": [storefront_key("TEE-1", "pa"), "storefront/TEE-1/nothing.jpg"],
        "manifest_out_of_date": [storefront_manifest_key(DATE)],
        "storefront_orphan": [storefront_key("TEE-1", "ghost")],
        "generation_orphan": ["generations/v1/TEE-1/pa/0123456789abcdef.jpg"],
    }

    result = audit_and_repair(ctx, DATE, fix=True)
    assert result.repaired and audit(ctx, DATE) == []
    assert ctx.store.get_bytes(storefront_key("TEE-1", "pa")) == storefront_copy_of(ctx, a)
    assert ctx.store.get_bytes(storefront_key("TEE-1", "pb")) == storefront_copy_of(ctx, b)
    assert not ctx.store.exists(storefront_key("TEE-1", "pc"))  # withdrawn until its image is made again
    states = {g.generation_id: g.state for g in ctx.ledger.generations(DATE)}
    assert states[c] == states[lost_flagged] == "planned" and states[kept_flagged] == "flagged"
    items = ctx.store.get_json(storefront_manifest_key(DATE))["items"]
    assert sorted(item["generation_id"] for item in items) == sorted([a, b])
    assert all(ctx.store.exists(item["key"]) for item in items)
    assert ctx.store.exists(review) and not ctx.store.exists(storefront_key("TEE-1", "ghost"))


def test_the_command_reports_and_repairs(ctx, tmp_path):
    [gid] = flagged_generations(ctx, 1)
    decisions.approve(ctx, gid, "ana")
    ctx.store.delete(storefront_key("TEE-1", "p1"))
    env = cli_env(
        tmp_path / "home",
        TRYON_S3_ENDPOINT_URL=ctx.settings.s3_endpoint_url,
        TRYON_BUCKET=ctx.settings.bucket,
        TRYON_LEDGER_URL=ctx.settings.resolved_ledger_url,
    )

    def tryon(*args):
        return subprocess.run(
            [sys.executable, "-m", "tasks.cli", "audit", "--date", DATE, *args],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )

    found = tryon()
    assert found.returncode == 1, found.stderr[-2000:]
    assert "storefront_missing" in found.stdout and "--repair` puts them right" in found.stdout
    repaired = tryon("--repair", "--json")
    assert repaired.returncode == 0, repaired.stderr[-2000:]
    report = json.loads(repaired.stdout)
    assert report["left"] == [] and f"copied {storefront_key('TEE-1', 'p1')} from its generation" in report["repaired"]
    assert ctx.store.get_bytes(storefront_key("TEE-1", "p1")) == storefront_copy_of(ctx, gid)


def test_the_audit_keeps_to_the_dates_own_keys(ctx):
    """A SKU named like a storefront prefix (quarantined ``reserved_name``) owns no storefront
    keys: the audit never takes another date's manifest or other garments' look files for its
    orphans, and a key below a SKU's slots is not one of them either."""
    from tasks.intake import discover
    from tasks.storage import look_file_key

    for sku in ("looks", "manifests", "TEE-1"):
        ctx.store.put_bytes(f"drops/{DATE}/{sku}/front.jpg", (REPO / "samples" / "drop" / "TEE-00055" / "front.jpg").read_bytes())
        ctx.store.put_json(f"drops/{DATE}/{sku}/meta.json", {"category": "upper_body"})
    assert [item.sku for item in discover(ctx, DATE)] == ["TEE-1"]
    reasons = {g.sku: g.reason for g in ctx.ledger.garments(DATE)}
    assert reasons["looks"].startswith("reserved_name") and reasons["manifests"].startswith("reserved_name")
    others = [
        storefront_manifest_key("2026-11-19"),
        look_file_key("JEANS-9"),
        "storefront/looks/abc/p1.jpg",
        "storefront/TEE-1/x/y.jpg",
    ]
    for key in others:
        ctx.store.put_bytes(key, b"another date's or another garment's")
    result = audit_and_repair(ctx, DATE, fix=True)
    assert [f for f in result.findings if f.key in others] == []
    assert all(ctx.store.exists(key) for key in others)


def test_full_outfit_images_and_look_files_are_in_the_manifest_and_the_audit(ctx):
    """The manifest lists every storefront object of the date, full-outfit images and look files
    included; the audit holds them against the ledger like the generations' images."""
    from tasks.ledger import LookGeneration
    from tasks.states import initial
    from tasks.storage import look_file_key, storefront_look_key
    from tasks.storefront import write_manifest

    [gid] = flagged_generations(ctx, 1, photo="pa")
    decisions.approve(ctx, gid, "ana")  # TEE-1 is on the storefront
    outfit = initial(
        LookGeneration(
            generation_id="look-1",
            look_id="lk1",
            drop_date=DATE,
            photo_id="pa",
            upper_sku="TEE-1",
            upper_garment_sha256="a" * 64,
            lower_sku="JEANS-1",
            lower_garment_sha256="b" * 64,
            score=0.9,
            looks_model_version="looks-1",
            engine="warp-baseline",
            model_version="warp-baseline-1.0.0",
            weights_sha256="none",
            seed=1,
            object_key="generations/warp-baseline-1.0.0/looks/lk1/pa/look-1.jpg",
            failed_checks=[],
            reviewer="ana",
        ),
        "published",
        "approved by ana",
    )
    with ctx.ledger.session() as session:
        session.add(outfit)
    put_jpeg(ctx.store, outfit.object_key)
    put_tryon_inputs(ctx.store, "pa", "lower_body", "b" * 64)  # the look's view of the photo, the jeans' cut-out
    left_by_stages = [storefront_look_key("lk1", "pa"), look_file_key("TEE-1")]
    for key in left_by_stages:  # as the full-outfit and looks stages leave them
        ctx.store.put_bytes(key, b"{}")
    write_manifest(ctx, DATE)
    manifest = ctx.store.get_json(storefront_manifest_key(DATE))
    assert [(o["generation_id"], o["key"]) for o in manifest["outfits"]] == [("look-1", storefront_look_key("lk1", "pa"))]
    assert manifest["look_files"] == [{"sku": "TEE-1", "key": look_file_key("TEE-1")}]
    assert audit(ctx, DATE) == []

    ctx.store.put_bytes(storefront_look_key("lk1", "pz"), b"no outfit behind it")
    ctx.store.put_bytes(look_file_key("TEE-2"), b"{}")  # a look file of the date's SKU with nothing on the storefront
    with ctx.ledger.session() as session:
        session.add(initial(Garment(drop_date=DATE, sku="TEE-2"), "rejected", "x"))
    ctx.store.delete(storefront_look_key("lk1", "pa"))
    found = _kinds(audit(ctx, DATE))
    assert found == {
        "manifest_entry_without_object": [storefront_look_key("lk1", "pa")],
        "storefront_orphan": [storefront_look_key("lk1", "pz"), look_file_key("TEE-2")],
    }
    assert audit_and_repair(ctx, DATE, fix=True).repaired and audit(ctx, DATE) == []
    assert not ctx.store.exists(storefront_look_key("lk1", "pz")) and not ctx.store.exists(look_file_key("TEE-2"))
    restored = ctx.store.get_bytes(storefront_look_key("lk1", "pa"))
    assert restored == ctx.store.get_bytes(credentialed_key(outfit.object_key)), "copied again from its generation"
    found = read_credentials(restored, TEST_SIGNING.ca_pem)
    assert found.state == "Trusted" and found.actions == ["c2pa.created", "c2pa.edited", REVIEWED], found
    assert found.ingredients == ["model photo pa", "garment TEE-1", "garment JEANS-1"]
    assert [o["key"] for o in ctx.store.get_json(storefront_manifest_key(DATE))["outfits"]] == [storefront_look_key("lk1", "pa")]
