"""evaluate: measure model versions on an evaluation set, side by side.

The run's typed params name the versions (``versions``: a list of ``ENGINE[/DATASET][:setting=value,...]``),
the set (``set``: default ``library``, the set made from the model library, made anew from the
library at the start of the run), optionally ``categories`` (a list; default all), ``limit`` (the
first N paired and N unpaired pairs of each category) and the evaluation id (default: from the
run id).
Each version is generated and measured in a mapped task on the try-on queue and pool (paired
SSIM and LPIPS, unpaired FID and KID per category, time per image, QC pass rate); the last task
records the figures in the ledger (``evaluations``) and writes the comparison page under
``reports/evaluations/{id}/``. ``tryon evaluate`` runs it.
"""

from __future__ import annotations

import re

from airflow.sdk import dag, get_current_context, task

from tasks.airflow_glue.common import checked_run_context, dag_defaults, param, run_context
from tasks.airflow_glue.kubernetes_pods import tryon_executor_config
from tasks.airflow_glue.xcom import allow_xcom_classes
from tasks.evaluation.plan import EvaluationDone, EvaluationPlan, VersionMade
from tasks.settings import get_settings

SETTINGS = get_settings()  # read at each parse of this file
allow_xcom_classes()  # the plan and what each version's task made cross XCom as these dataclasses


@dag(
    dag_id="evaluate",
    schedule=None,
    params={
        "versions": param(
            [],
            "Model versions: ENGINE[/DATASET][:setting=value,...], e.g. ladi-vton:inference_steps=20",
            type="array",
            items={"type": "string"},
        ),
        "set": param("library", "Evaluation set (library: made anew from the model library)", type="string"),
        "categories": param(
            None,
            "Only these categories (null: all)",
            type=["null", "array"],
            items={"enum": ["upper_body", "lower_body", "dresses"]},
        ),
        "limit": param(None, "The first N paired and N unpaired pairs per category", type=["null", "integer"], minimum=1),
        "evaluation_id": param(None, "Evaluation id (null: from the run id)", type=["null", "string"]),
    },
    doc_md=__doc__,
    **dag_defaults(SETTINGS),
)
def evaluate() -> None:
    @task
    def prepare() -> EvaluationPlan:
        from tasks.evaluation.run import ModelVersion
        from tasks.evaluation.sets import LIBRARY_SET, library_set, read_set

        context = get_current_context()
        params = context["params"]
        versions = list(params.get("versions") or [])
        if not versions:
            raise ValueError("evaluate needs the versions param: [ENGINE[/DATASET][:setting=value,...], ...]")
        for spec in versions:
            ModelVersion.parse(spec)  # refuse a bad version before anything runs
        name = params.get("set") or LIBRARY_SET
        ctx = checked_run_context(("S3", "ledger", "evaluation"))
        evalset = library_set(ctx, name) if name == LIBRARY_SET else read_set(ctx.store, name)
        evaluation_id = params.get("evaluation_id") or re.sub(r"[^A-Za-z0-9._-]+", "_", context["dag_run"].run_id)
        limit = params.get("limit")
        return EvaluationPlan(
            evaluation_id, evalset.name, versions, None if limit is None else int(limit), params.get("categories") or None
        )

    @task
    def versions(plan: EvaluationPlan) -> list[str]:
        return list(plan.versions)

    @task(
        queue=SETTINGS.tryon_queue,
        pool=SETTINGS.tryon_pool,
        map_index_template="{{ task.op_kwargs['spec'] }}",
        executor_config=tryon_executor_config(SETTINGS),
    )
    def evaluate_version(plan: EvaluationPlan, spec: str) -> VersionMade:
        from tasks.evaluation.run import evaluate_version as run

        result = run(run_context(), plan.evaluation_id, plan.set, spec, plan.limit, plan.categories)
        return VersionMade(spec, len(result.images), len(result.failed))

    @task
    def compare(plan: EvaluationPlan, done: list[VersionMade]) -> EvaluationDone:
        from tasks.evaluation.compare import compare as run

        comparison = run(run_context(), plan.evaluation_id, plan.set, plan.versions)
        return EvaluationDone(comparison.page, comparison.warnings, [done[i] for i in range(len(done))])

    plan = prepare()
    compare(plan, evaluate_version.partial(plan=plan).expand(spec=versions(plan)))


evaluate()
