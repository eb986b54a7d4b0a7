"""The backfill gate: a new model version goes ahead only on an evaluation that shows it at least
as good as the current one on the same set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tasks.evaluation.gate import Identity, judge
from tasks.ledger import EvaluationRow, open_ledger

CURRENT = Identity("ladi-vton-vitonhd-1.0", "a" * 64, {"steps": 50})
NEW = Identity("ladi-vton-vitonhd-1.1", "b" * 64, {"steps": 50})


def row(
    evaluation_id: str, who: Identity, category: str, fid: float | None, lpips: float | None, minutes: int = 0
) -> EvaluationRow:
    return EvaluationRow(
        evaluation_id=evaluation_id,
        set_name="library",
        set_sha256="c" * 64,
        version=who.model_version,
        engine="ladi-vton",
        model_version=who.model_version,
        weights_sha256=who.weights_sha256,
        parameters=who.parameters,
        category=category,
        fid=fid,
        lpips=lpips,
        created_at=datetime(2026, 12, 1, tzinfo=UTC) + timedelta(minutes=minutes),
    )


def ledger_with(tmp_path, *rows: EvaluationRow):
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    with ledger.session() as session:
        session.add_all(rows)
    return ledger


def test_no_evaluation_of_both_refuses(tmp_path) -> None:
    ledger = ledger_with(tmp_path, row("e1", NEW, "upper_body", 10.0, 0.1))
    verdict = judge(ledger, NEW, CURRENT)
    assert not verdict.allowed and "no evaluation holds both" in verdict.reason


def test_better_or_equal_everywhere_is_allowed(tmp_path) -> None:
    ledger = ledger_with(
        tmp_path,
        row("e1", NEW, "upper_body", 10.0, 0.10),
        row("e1", CURRENT, "upper_body", 12.0, 0.10),
        row("e1", NEW, "dresses", 20.0, None),
        row("e1", CURRENT, "dresses", 21.0, 0.2),
    )
    verdict = judge(ledger, NEW, CURRENT)
    assert verdict.allowed and verdict.evaluation_id == "e1" and "3 figures" in verdict.reason


def test_worse_in_one_category_refuses_and_says_where(tmp_path) -> None:
    ledger = ledger_with(
        tmp_path,
        row("e1", NEW, "upper_body", 10.0, 0.10),
        row("e1", CURRENT, "upper_body", 12.0, 0.12),
        row("e1", NEW, "lower_body", 15.0, 0.3),
        row("e1", CURRENT, "lower_body", 14.0, 0.2),
    )
    verdict = judge(ledger, NEW, CURRENT)
    assert not verdict.allowed
    assert "lower_body FID 15 > 14" in verdict.reason and "lower_body LPIPS 0.3 > 0.2" in verdict.reason


def test_the_latest_evaluation_decides_and_other_settings_are_another_version(tmp_path) -> None:
    fewer_steps = Identity(NEW.model_version, NEW.weights_sha256, {"steps": 20})
    ledger = ledger_with(
        tmp_path,
        row("old", NEW, "upper_body", 30.0, 0.1),
        row("old", CURRENT, "upper_body", 12.0, 0.1),
        row("new", NEW, "upper_body", 10.0, 0.1, minutes=5),
        row("new", CURRENT, "upper_body", 12.0, 0.1, minutes=5),
    )
    assert judge(ledger, NEW, CURRENT).evaluation_id == "new"
    assert not judge(ledger, fewer_steps, CURRENT).allowed  # never evaluated with 20 steps
    assert judge(ledger, CURRENT, CURRENT).allowed
