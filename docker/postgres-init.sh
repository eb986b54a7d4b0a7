#!/bin/sh
# Run once by the postgres image on an empty data folder (/docker-entrypoint-initdb.d): one role
# per service, each with its own password from the environment, none of them a superuser.
#   airflow:         owns the Airflow metadata database
#   tryon_pipeline:  owns the ledger database (its tables are made by the pipeline)
#   tryon_review:    may connect to the ledger; airflow-init grants it the review page's tables
#                    (`tryon review grant tryon_review`)
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v airflow_password="$AIRFLOW_DB_PASSWORD" -v pipeline_password="$TRYON_LEDGER_DB_PASSWORD" \
  -v review_password="$TRYON_REVIEW_DB_PASSWORD" <<'SQL'
CREATE ROLE airflow LOGIN PASSWORD :'airflow_password';
CREATE ROLE tryon_pipeline LOGIN PASSWORD :'pipeline_password';
CREATE ROLE tryon_review LOGIN PASSWORD :'review_password';
CREATE DATABASE airflow OWNER airflow;
CREATE DATABASE ledger OWNER tryon_pipeline;
REVOKE ALL ON DATABASE airflow FROM PUBLIC;
REVOKE ALL ON DATABASE ledger FROM PUBLIC;
GRANT CONNECT ON DATABASE ledger TO tryon_review;
\connect ledger
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
