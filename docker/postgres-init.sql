-- the ledger lives beside Airflow's metadata database, in its own database
CREATE DATABASE ledger OWNER airflow;
