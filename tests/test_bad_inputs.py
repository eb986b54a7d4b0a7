"""The bad-input corpus (tests/bad_inputs.py) through discovery and validation on SQLite and on
PostgreSQL: no crash, every SKU recorded once, each bad one quarantined or rejected with its
reason (and its files kept under quarantine/), each good one accepted."""

from __future__ import annotations

from sqlalchemy import select

from tasks.drops import kept_reading, ledger_label, list_drop
from tasks.intake import discover, validate
from tasks.ledger import Garment
from tasks.report import check_inputs_add_up
from tests.bad_inputs import DATE, write_bad_inputs


def test_every_bad_input_ends_recorded_with_its_reason(each_store_ctx):
    ctx = each_store_ctx
    cases = write_bad_inputs(ctx.store)
    assert len(cases) >= 80
    accepted = {}
    for date in sorted({date for date, _ in cases}):
        accepted[date] = {item.sku for item in validate(ctx, date, discover(ctx, date))}
    wrong = []
    for (date, sku), case in sorted(cases.items()):
        rows = {g.sku: g for g in ctx.ledger.garments(date)}
        row = rows.get(sku) or rows.get(ledger_label(sku))  # a root file's label ("NAME~file") as it is
        if row is None:
            wrong.append((date, sku, "not recorded"))
            continue
        if row.state != case.state or (case.reason and not (row.reason or "").startswith(case.reason)):
            wrong.append((date, sku, row.state, row.reason, "expected", case.state, case.reason))
        if case.state == "discovered" and (
            sku not in accepted[date] or (case.note and case.note not in row.meta["intake_notes"])
        ):
            wrong.append((date, sku, "not accepted with its notes", row.meta.get("intake_notes")))
        if case.state == "quarantined":
            kept = ctx.store.get_json(f"quarantine/{date}/{sku}/reason.json")
            if kept["reason"] != row.reason:
                wrong.append((date, sku, "quarantine reason differs", kept["reason"]))
        if "intake_error" in (row.reason or ""):
            wrong.append((date, sku, "an unexpected error, not a named reason", row.reason))
    assert not wrong, "\n".join(map(repr, wrong))
    for date in {date for date, _ in cases}:  # one row per input, nothing else
        assert len(ctx.ledger.garments(date)) == len([1 for d, _ in cases if d == date])
    # what the catalogue team hears about the drop as a whole (the report shows it)
    spreadsheet = " | ".join(kept_reading(ctx, "2026-11-27").warnings)
    for said in (
        "manifest_sku_absent: 1 SKU(s)",
        "'NEVER-ARRIVED'",
        "manifest_duplicate_sku: 'NEEDS-MANIFEST' is listed 2 times",
        "read as Windows-1252",
    ):
        assert said in spreadsheet, spreadsheet
    assert any(w.startswith("folder_markers: 3 folder object(s)") for w in kept_reading(ctx, "2026-11-28").warnings)

    # a quarantined SKU's folder deleted before a re-run: withdrawn, and the drop still adds up
    for key in list(ctx.store.list_keys(f"drops/{DATE}/META-NAN/")):
        ctx.store.delete(key)
    validate(ctx, DATE, discover(ctx, DATE))
    assert {g.sku: g.state for g in ctx.ledger.garments(DATE)}["META-NAN"] == "withdrawn"
    with ctx.ledger.session() as session:  # the accepted ones would go on to preprocessing: ended here
        for garment in session.scalars(select(Garment).where(Garment.drop_date == DATE, Garment.state == "discovered")):
            garment.state = "rejected"
    check_inputs_add_up(DATE, list_drop(ctx, DATE), ctx.ledger.garments(DATE))


def test_a_trailing_newline_is_not_a_safe_name():
    """``$`` matches before a final newline; the SKU pattern must match the whole name (moto's
    server cannot take such a key, so this case is checked here rather than in the corpus)."""
    assert ledger_label("TEE-01\n").startswith("unsafe-") and ledger_label("TEE-01") == "TEE-01"
