"""The Airflow-only glue: what the DAG files, the triggerer, the plugin and the CLI's runner
need of Airflow. The rest of ``tasks/`` stays free of Airflow."""
