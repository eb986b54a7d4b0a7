"""Alembic migrations of the ledger (``tasks.ledger``): ``versions/`` holds one file per schema
change; ``tasks.ledger.Ledger`` upgrades a database that is behind when it opens it, and
``tryon db upgrade`` does the same on demand (the deployment's init job runs it)."""
