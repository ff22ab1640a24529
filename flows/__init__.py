"""Prefect flows: the only package that imports Prefect.

Prefect waits 20 s by default for its temporary server (used when PREFECT_API_URL is unset).
A first run with a new PREFECT_HOME migrates that server's database, which on a busy 2-core
machine takes longer than that, and the run then fails. Wait up to 90 s unless the user has
chosen otherwise; this is set before Prefect reads its settings (on first import below).
"""

import os

os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
