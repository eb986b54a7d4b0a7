"""garment_drop's notices (``tasks.night_notice``) through Airflow: the report task sends the
night's outcome (finished, failed, no drop), and a deadline alert (``TRYON_NIGHT_DEADLINE``), which
the scheduler evaluates, has the triggerer send a late notice for a nightly run still going at the
deadline. Both go through the pipeline's webhook notifier (``notifier.py``) to the connection named
by ``TRYON_NOTIFY_CONN_ID`` (a webhook's URL; ``AIRFLOW_CONN_TRYON_NOTIFY`` or the UI); without that
connection nothing is sent, and a notice that cannot be sent never fails the run."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from airflow.sdk.definitions.callback import AsyncCallback
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

from tasks.airflow_glue.notifier import send
from tasks.settings import Settings, get_settings, parse_deadline

if TYPE_CHECKING:
    from tasks.night_notice import NightNotice

logger = logging.getLogger(__name__)


def night_deadline(settings: Settings, drop_date: str) -> datetime | None:
    """When the night of ``drop_date`` must be done (None: no deadline set): the morning after
    it, at ``TRYON_NIGHT_DEADLINE`` in ``TRYON_TEAM_TIMEZONE`` (the run starts once the drop's day
    is over)."""
    if not settings.night_deadline:
        return None
    day = datetime.fromisoformat(drop_date).date() + timedelta(days=1)
    return datetime.combine(day, parse_deadline(settings.night_deadline), tzinfo=ZoneInfo(settings.team_timezone))


def deadline_alert(settings: Settings) -> DeadlineAlert | None:
    """The nightly run's deadline (None without ``TRYON_NIGHT_DEADLINE``): the run's logical date
    is its drop date's midnight UTC, so the alert fires that long after it; the interval is taken
    with the team's time zone's offset of today (a night across a daylight-saving change is told
    an hour early or late)."""
    today = datetime.now(UTC).date().isoformat()
    deadline = night_deadline(settings, today)
    if deadline is None:
        return None
    midnight = datetime.fromisoformat(today).replace(tzinfo=UTC)
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=deadline - midnight,
        callback=AsyncCallback(night_is_late),
        name="night deadline",
    )


async def night_is_late(context: dict[str, Any] | None = None, **_: Any) -> str:
    """The deadline alert's callback, in the triggerer: a nightly (scheduled) run past its
    deadline sends what is done and what is left; a backfill's or a manual run's is not told
    (an old date is past its deadline by nature)."""
    run = (context or {}).get("dag_run") or {}
    if run.get("run_type") != "scheduled":
        return f"no notice: run {run.get('run_id')} is not a nightly run"
    from tasks.context import RunContext
    from tasks.night_notice import LATE, night_notice

    date = (run.get("conf") or {}).get("drop_date") or str(run.get("logical_date", ""))[:10]
    settings = get_settings()
    notice = await asyncio.to_thread(lambda: night_notice(RunContext.from_settings(settings), date, LATE))
    await asyncio.to_thread(send, settings.notify_conn_id, notice.payload())
    return notice.text


def send_notice(settings: Settings, notice: NightNotice) -> bool:
    """Send ``notice`` (from a task); False when no connection is configured or sending failed
    (logged: a notice never fails the run)."""
    return send(settings.notify_conn_id, notice.payload())
