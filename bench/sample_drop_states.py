"""What the sample drop ends as, for holding a refactor to "behaviour kept": the demo, then a
reviewer's decisions (the first three flagged generations approved, the fourth rejected, the
first flagged full-outfit image approved), then the date run again; the snapshot is every
storefront object's sha256, every manifest, and the state and reason of every ledger row
(garments, generations, publications, full outfits, model photos, QC results).

    python bench/sample_drop_states.py snapshot OUT.json     # in a checkout, on its embedded default
    python bench/sample_drop_states.py compare A.json B.json

Run ``snapshot`` in two checkouts (before and after a change, each from a clean ``.tryon/``) and
``compare`` them: times are masked, anything else that differs is printed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?")
ROWS = {  # table -> the columns that say what became of each row (ordered by the first)
    "garments": ("sku", "drop_date", "state", "reason", "sha256"),
    "generations": ("generation_id", "state", "reason", "garment_sha256", "object_key"),
    "publications": ("generation_id", "state", "reason", "storefront_key"),
    "look_generations": ("generation_id", "state", "reason", "failed_checks", "object_key"),
    "model_photos": ("photo_id", "state", "reason"),
    "qc_results": ("generation_id", "check", "state", "value"),
}


def _tryon(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "tasks.cli", *args], cwd=REPO, check=True, env={**os.environ, "TRYON_OUTFITS": "always"}
    )


def _decide(date: str) -> None:
    from tasks.cli import pipeline
    from tasks.context import RunContext
    from tasks.review.decisions import approve, flagged, reject
    from tasks.review.look_decisions import approve_look, flagged_looks
    from tasks.settings import get_settings

    with pipeline(get_settings(), airflow=False) as settings:
        ctx = RunContext.from_settings(settings)
        items = sorted(flagged(ctx, date), key=lambda item: item.generation_id)
        for item in items[:3]:
            approve(ctx, item.generation_id, "qa")
        if len(items) > 3:
            reject(ctx, items[3].generation_id, "qa", "the sleeve is lost")
        looks = sorted(flagged_looks(ctx, date), key=lambda item: item.generation_id)
        if looks:
            approve_look(ctx, looks[0].generation_id, "qa")


def _read(date: str) -> dict[str, Any]:
    from sqlalchemy import select

    from tasks.cli import pipeline
    from tasks.ledger import Base, ledger_from_settings
    from tasks.settings import get_settings
    from tasks.storage import ObjectStore

    with pipeline(get_settings(), airflow=False) as settings:
        store = ObjectStore.from_settings(settings)
        objects = {key: hashlib.sha256(store.get_bytes(key)).hexdigest() for key in sorted(store.list_keys("storefront/"))}
        manifests = {key: store.get_json(key) for key in objects if key.endswith(".json")}
        ledger = ledger_from_settings(settings)
        rows: dict[str, list[list[Any]]] = {}
        with ledger.session() as session:
            for table, columns in ROWS.items():
                found = session.execute(select(*(Base.metadata.tables[table].c[c] for c in columns))).all()
                rows[table] = sorted([list(row) for row in found], key=lambda row: [str(v) for v in row])
    return {"date": date, "storefront": objects, "manifests": manifests, "ledger": rows}


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return TIME.sub("<time>", value) if isinstance(value, str) else value


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """What differs between two snapshots (times masked), one line each."""
    a, b = _masked(a), _masked(b)
    lines = []
    for key in sorted(set(a["manifests"]) | set(b["manifests"])):
        left, right = a["manifests"].get(key) or {}, b["manifests"].get(key) or {}
        added = sorted(set(right) - set(left))
        if left == {k: v for k, v in right.items() if k not in added} and added:
            lines.append(f"manifest {key}: the same, with sections the second adds: {', '.join(added)}")
        elif left != right:
            lines.append(f"manifest {key}: {json.dumps(left)[:200]} != {json.dumps(right)[:200]}")
    for key in sorted(set(a["storefront"]) | set(b["storefront"])):
        if a["storefront"].get(key) != b["storefront"].get(key) and key not in a["manifests"]:
            lines.append(f"storefront {key}: {a['storefront'].get(key)} != {b['storefront'].get(key)}")
    for table in sorted(set(a["ledger"]) | set(b["ledger"])):
        left, right = a["ledger"].get(table, []), b["ledger"].get(table, [])
        for row in [r for r in left if r not in right][:5]:
            lines.append(f"ledger {table}: only in the first: {row}")
        for row in [r for r in right if r not in left][:5]:
            lines.append(f"ledger {table}: only in the second: {row}")
    return lines


def main(argv: list[str]) -> int:
    if argv[:1] == ["compare"] and len(argv) == 3:
        differences = compare(*(json.loads(Path(p).read_text()) for p in argv[1:]))
        print("\n".join(differences) or "the same: every storefront object, manifest and ledger state")
        return 1 if differences else 0
    if argv[:1] != ["snapshot"] or len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO))
    date = "2026-12-05"
    _tryon("demo", "--date", date)
    _decide(date)
    _tryon("run", "--date", date)
    snapshot = _read(date)
    Path(argv[1]).write_text(json.dumps(snapshot, indent=1, sort_keys=True, default=str))
    counts = {table: len(rows) for table, rows in snapshot["ledger"].items()}
    print(f"{argv[1]}: {len(snapshot['storefront'])} storefront objects, ledger rows {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
