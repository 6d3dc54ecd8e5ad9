"""Benchmarks: the ledger API measured against what PostgreSQL itself can do.

``python -m bench`` (or ``bench/run``) builds a database of its own on the
PostgreSQL server named by ``DATABASE_URL`` and prints, side by side:

- C0, the double-entry transfer in raw SQL through psycopg; C1, the posting
  service called in-process; C2, the HTTP API served by gunicorn under a
  concurrent load generator — throughput, latency percentiles and the ratios
  C1/C0 and C2/C0;
- how balance and statement reads scale with the ledger's size and with the
  number of schemes; a bulk award; a member import; a web worker's peak memory.

Results also go to ``bench/results/latest.json``. See ``bench/cli.py`` for the
options (``--quick`` is a small smoke run). The scripts ``bench/award.py`` and
``bench/import_members.py`` remain standalone tools for those two operations.
"""
