"""Airflow's metadata database is migrated only when it is behind: a command whose database is at
the revision the last migration left, under the same Airflow, does not pay for ``airflow db
migrate``; a new database, another Airflow version or a database at another revision does."""

from __future__ import annotations

import json
import sqlite3
import subprocess

from tasks.airflow_glue import runner as airflow_runner


def test_migrate_runs_only_when_the_database_is_behind(tmp_path, monkeypatch):
    database = tmp_path / "airflow.db"
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{database}")
    migrations = []

    def airflow_db_migrate(command, **kwargs):  # stands in for the subprocess: brings the database to "head"
        assert command[-3:] == ["airflow", "db", "migrate"]
        migrations.append(command)
        with sqlite3.connect(database) as connection:
            connection.execute("CREATE TABLE IF NOT EXISTS alembic_version (version_num TEXT)")
            connection.execute("DELETE FROM alembic_version")
            connection.execute("INSERT INTO alembic_version VALUES ('head')")
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(airflow_runner.subprocess, "run", airflow_db_migrate)
    assert airflow_runner.migrate() and len(migrations) == 1, "a new database is migrated"
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
