"""Airflow's metadata database is migrated only when it is behind: a command whose database is at
the revision the last migration left, under the same Airflow, does not pay for ``airflow db
migrate``; a new database, another Airflow version or a database at another revision does (and the
execution API is warmed meanwhile)."""

from __future__ import annotations

import json
import sqlite3

from tasks.airflow_glue import runner as airflow_runner


def test_migrate_runs_only_when_the_database_is_behind(tmp_path, monkeypatch):
    database = tmp_path / "airflow.db"
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{database}")
    migrations, warmed = [], []

    class AirflowDbMigrate:  # stands in for the subprocess: brings the database to "head" when waited for
        def __init__(self, command, **kwargs):
            assert command[-3:] == ["airflow", "db", "migrate"]
            migrations.append(command)

        def wait(self):
            with sqlite3.connect(database) as connection:
                connection.execute("CREATE TABLE IF NOT EXISTS alembic_version (version_num TEXT)")
                connection.execute("DELETE FROM alembic_version")
                connection.execute("INSERT INTO alembic_version VALUES ('head')")
            return 0

    monkeypatch.setattr(airflow_runner.subprocess, "Popen", AirflowDbMigrate)
    monkeypatch.setattr(airflow_runner, "warm_execution_api", lambda: warmed.append(len(migrations)))
    assert airflow_runner.migrate() and len(migrations) == 1, "a new database is migrated"
    assert warmed == [1], "the execution API is warmed while the migration runs"
    assert json.loads((tmp_path / "migrated.json").read_text())["revision"] == "head"
    assert not airflow_runner.migrate() and len(migrations) == 1, "nothing to do: no migration"

    stamp = json.loads((tmp_path / "migrated.json").read_text())
    (tmp_path / "migrated.json").write_text(json.dumps({**stamp, "airflow": "2.9.0"}))
    assert airflow_runner.migrate() and len(migrations) == 2, "another Airflow version: migrated"
    assert not airflow_runner.migrate() and len(migrations) == 2

    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'older'")
    assert airflow_runner.migrate() and len(migrations) == 3, "a database at another revision: migrated"

    database.unlink()
    assert airflow_runner.migrate() and len(migrations) == 4, "a database that went away: migrated"


def test_dag_test_polls_quickly_after_a_task_starts_and_other_sleeps_are_untouched(monkeypatch):
    """``dag.test``'s one-second sleeps between passes of its loop are 50 ms for the first 20
    after a task starts (a skip spreads one level a pass), then a second again; a sleep anywhere
    else (a task's own) lasts what it asks."""
    import time

    from airflow.sdk.definitions.dag import DAG

    def loop(self, passes: int) -> float:  # stands in for DAG.test: its passes sleep a second each
        started = time.monotonic()
        for _ in range(passes):
            time.sleep(1)
        return time.monotonic() - started

    monkeypatch.setattr(DAG, "test", loop)
    polls = airflow_runner._POLLS
    with airflow_runner._quick_polls():
        polls.task_started()
        assert loop(None, 20) < 3, "the first 20 passes after a task started: 50 ms each"
        assert 0.9 < loop(None, 1) < 1.5, "then a second, as Airflow asks (a deferred sensor's wait)"
        polls.task_started()
        assert loop(None, 5) < 1
        started = time.monotonic()
        time.sleep(0.3)  # not DAG.test's sleep
        assert time.monotonic() - started >= 0.3
    assert time.sleep.__module__ == "time", "the real sleep is back after the run"
