"""Every file in dags/ imports under Airflow 3 with no import errors."""

from importlib.metadata import version

from airflow.dag_processing.dagbag import DagBag

from tasks.airflow_glue.runner import DAGS_FOLDER


def test_dags_import_without_errors():
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {"garment_drop", "model_library", "evaluate", "rights"}
    assert len(list(DAGS_FOLDER.glob("*.py"))) == len(bag.dag_ids)


def test_garment_drop_shape():
    from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

    dag = DagBag(dag_folder=str(DAGS_FOLDER)).dags["garment_drop"]
    order = [
        "check_model_version",
        "wait_for_drop",
        "discover",
        "validate",
        "preprocess_garments",
        "keep_originals",
        "check_inputs",
        "match",
        "tryon",
        "measure",
        "qc",
        "publish",
        "looks",
        "outfits",
        "report",
    ]
    assert set(dag.task_ids) == {*order, "measure_chunks", "fail_run_if_a_stage_failed"}
    assert dag.get_task("measure_chunks").downstream_task_ids == {"measure", "fail_run_if_a_stage_failed"}
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert dag.timetable.summary == "0 0 * * *"
    for upstream, downstream in zip(order, order[1:]):
        assert downstream in dag.get_task(upstream).downstream_task_ids
    # the run waits for the drop's marker with the Amazon provider's sensor, deferred (no worker slot held)
    sensor = dag.get_task("wait_for_drop")
    assert isinstance(sensor, S3KeySensor) and sensor.deferrable
    # the evaluation gate comes first and is never retried (a refusal is not a passing fault)
    gate = dag.get_task("check_model_version")
    assert gate.retries == 0 and not gate.upstream_task_ids
    # Airflow's asset graph: drops -> garment_drop -> storefront (each run's dated objects: hook lineage, test_run_params)
    assert [inlet.uri for inlet in dag.get_task("discover").inlets] == ["s3://tryon/drops"]
    assert [outlet.uri for outlet in dag.get_task("publish").outlets] == ["s3://tryon/storefront"]
    # matching reads the library index, the asset model_library produces
    assert [inlet.uri for inlet in dag.get_task("match").inlets] == ["s3://tryon/library/index.parquet"]
    # the report runs whatever happened upstream, so every input is accounted for
    for task_id in ("measure", "qc", "publish", "looks", "outfits", "report"):
        assert dag.get_task(task_id).trigger_rule == "all_done"
    # ...and a leaf that fails the run when any stage failed
    watcher = dag.get_task("fail_run_if_a_stage_failed")
    assert watcher.trigger_rule == "one_failed"
    assert watcher.upstream_task_ids == set(dag.task_ids) - {watcher.task_id}
    assert {t.task_id for t in dag.leaves} == {watcher.task_id}
    # try-on (and the full-outfit images, the engine twice) runs where the GPUs are: its own queue and pool
    tryon = dag.get_task("tryon")
    for engine_task in (tryon, dag.get_task("outfits")):
        assert (engine_task.queue, engine_task.pool) == ("gpu", "gpu") and engine_task.executor_config
    assert tryon.weight_rule == "tasks.airflow_glue.priority.NightlyFirst", "nightly runs outrank backfills"
    # the CPU-heavy stages are mapped over chunks on a queue and pool of their own, so a drop of
    # any size spreads over the CPU workers and never holds the try-on queue's
    cpu = ("validate", "preprocess_garments", "measure")
    for task_id in cpu:
        assert (dag.get_task(task_id).queue, dag.get_task(task_id).pool) == ("cpu", "cpu"), task_id
        assert dag.get_task(task_id).is_mapped, task_id
    assert not any(dag.get_task(t).is_mapped for t in set(dag.task_ids) - {*cpu, "tryon"}), "only the gathering steps stay single"
    assert {dag.get_task(t).queue for t in dag.task_ids if t not in ("tryon", "outfits", *cpu)} == {"default"}
    # ...and, under the KubernetesExecutor, a pod on the GPU image with one GPU (Celery ignores it)
    override = tryon.executor_config["pod_override"].spec.containers[0]
    assert (override.image, override.resources.limits) == (
        f"tryon-gpu-worker:{version('tryon-pipeline')}",
        {"nvidia.com/gpu": "1", "memory": "32Gi"},
    )
    assert all(not dag.get_task(t).executor_config for t in dag.task_ids if t not in ("tryon", "outfits"))


def test_model_library_shape():
    dag = DagBag(dag_folder=str(DAGS_FOLDER)).dags["model_library"]
    assert set(dag.task_ids) == {"erase", "photos_changed", "list_photos", "preprocess", "build_index", "looks"}
    # an erasure (the erase param) comes first: the build that follows leaves the photo out
    assert dag.get_task("erase").downstream_task_ids == {"photos_changed"} and dag.params["erase"] is None
    # it looks at the photos every 30 minutes and goes on only when they changed (or on rebuild)
    assert dag.timetable.summary == "*/30 * * * *" and dag.params["rebuild"] is False
    assert dag.params["looks"] is True, "the looks model is trained unless a run says not (the demo's)"
    changed = dag.get_task("photos_changed")
    assert type(changed).__name__ == "_ShortCircuitDecoratedOperator"
    assert {"list_photos", "build_index"} <= changed.downstream_task_ids
    assert [inlet.uri for inlet in dag.get_task("list_photos").inlets] == ["s3://tryon/library/photos"]
    assert "build_index" in dag.get_task("preprocess").downstream_task_ids
    # the photos' preprocessing is mapped over chunks on the CPU stages' queue and pool
    assert dag.get_task("preprocess").is_mapped and (dag.get_task("preprocess").queue, dag.get_task("preprocess").pool) == (
        "cpu",
        "cpu",
    )
    [outlet] = dag.get_task("build_index").outlets
    assert outlet.uri == "s3://tryon/library/index.parquet"
    # the outfits and the compatibility model follow the index
    assert dag.get_task("build_index").downstream_task_ids == {"looks"}


def test_evaluate_shape():
    dag = DagBag(dag_folder=str(DAGS_FOLDER)).dags["evaluate"]
    assert set(dag.task_ids) == {"prepare", "versions", "evaluate_version", "compare"}
    assert type(dag.timetable).__name__ == "NullTimetable"  # on demand: tryon evaluate
    version = dag.get_task("evaluate_version")
    # every version generates on the try-on queue, pool and GPU pod, like the drop's try-on
    assert (version.queue, version.pool) == ("gpu", "gpu") and version.executor_config
    assert dag.get_task("compare").upstream_task_ids == {"prepare", "evaluate_version"}
    assert set(dag.params) == {"versions", "set", "categories", "limit", "evaluation_id"}  # the trigger form


def test_garment_drop_params_are_the_run_settings_and_the_drop_date():
    from tasks.run_overrides import PARAMS, RUN_SETTINGS

    dag = DagBag(dag_folder=str(DAGS_FOLDER)).dags["garment_drop"]
    assert set(dag.params) == set(PARAMS) == {"drop_date", "force_reason", "operator", *RUN_SETTINGS}
    assert all(dag.params[name] is None for name in PARAMS), "null: the deployment's settings"


def test_each_parse_reads_the_settings_of_its_time(monkeypatch):
    """A process that parses the DAG files again (the dag-processor, ``tryon run`` after ``tryon
    library build``, the tests' forked commands) gets the settings of that parse: the retries,
    the pools and the assets' bucket were those of the process's first parse."""
    monkeypatch.setenv("TRYON_TASK_RETRIES", "0")
    first = DagBag(dag_folder=str(DAGS_FOLDER)).dags["garment_drop"]
    monkeypatch.setenv("TRYON_TASK_RETRIES", "4")
    monkeypatch.setenv("TRYON_BUCKET", "another")
    monkeypatch.setenv("TRYON_CPU_POOL", "cpu-night")
    again = DagBag(dag_folder=str(DAGS_FOLDER)).dags["garment_drop"]
    assert first.get_task("discover").retries == 0 and again.get_task("discover").retries == 4
    assert [inlet.uri for inlet in again.get_task("discover").inlets] == ["s3://another/drops"]
    assert again.get_task("validate").pool == "cpu-night"


def test_every_param_is_checked_as_draft_7_and_bad_values_are_still_refused():
    """Airflow reads (and validates) each param dozens of times a run; a schema without its dialect
    is checked against Draft 2020-12's costlier meta-schema first (tasks.run_overrides.PARAM_DIALECT)."""
    import pytest
    from airflow.sdk.definitions.param import ParamValidationError

    from tasks.run_overrides import PARAM_DIALECT

    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    declared = [(dag_id, name, dag.params.get_param(name)) for dag_id, dag in bag.dags.items() for name in dag.params]
    assert len(declared) >= 20 and {dag_id for dag_id, _, _ in declared} >= {"garment_drop", "model_library", "evaluate"}
    assert [(d, n) for d, n, p in declared if p.schema.get("$schema") != PARAM_DIALECT] == []
    params = bag.dags["garment_drop"].params
    for name, bad in (("inference_steps", 0), ("engine", "dall-e"), ("drop_date", "2026-13-01"), ("seed", "7")):
        with pytest.raises(ParamValidationError):
            params.get_param(name).resolve(bad)
    assert params.get_param("drop_date").resolve("2026-12-01") == "2026-12-01"
    assert bag.dags["evaluate"].params.get_param("limit").resolve(None) is None
