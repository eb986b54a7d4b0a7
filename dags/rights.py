"""rights: every day, take off the storefront what the terms of its inputs no longer allow, and
warn of what is about to stop.

``withdraw`` asks the storefront gate's own question of everything live (the weights' licences
for the deployment's use, the model photo's release today; ``tasks.storefront.withdrawals``):
what fails is withdrawn with its reason recorded in the ledger, look files are mended and the
manifests written again. ``warn`` lists the model releases that end within
``TRYON_RIGHTS_WARN_DAYS`` (14 by default) and posts the withdrawals and the warnings to the
webhook of the Airflow connection ``TRYON_RIGHTS_NOTIFY_CONN_ID`` (docs/rights.md).
"""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable

from tasks.airflow_glue.common import checked_run_context, dag_defaults, run_context, storefront
from tasks.airflow_glue.xcom import allow_xcom_classes
from tasks.settings import get_settings
from tasks.storefront.withdrawals import RightsSweep

SETTINGS = get_settings()  # read at each parse of this file
allow_xcom_classes()  # the sweep crosses XCom as its dataclass


@dag(
    dag_id="rights",
    schedule=CronTriggerTimetable(SETTINGS.rights_schedule, timezone="UTC"),
    doc_md=__doc__,
    **dag_defaults(SETTINGS),
)
def rights() -> None:
    @task(outlets=[storefront(SETTINGS)])
    def withdraw() -> RightsSweep:
        from tasks.storefront.withdrawals import withdraw_without_rights

        return withdraw_without_rights(checked_run_context(("S3", "ledger")))

    @task
    def warn(sweep: RightsSweep) -> list[str]:
        """The releases ending soon, and the message posted: what was withdrawn, what will be."""
        from tasks.airflow_glue.notifier import send
        from tasks.rights import rights_message

        ctx = run_context()
        text, ending = rights_message(ctx, sweep.withdrawn)
        print(text)
        if sweep.withdrawn or ending:
            send(ctx.settings.rights_notify_conn_id, {"text": text}, get_current_context())
        return ending

    warn(withdraw())  # type: ignore[arg-type]  # an XComArg of the sweep, resolved when the task runs


rights()
