"""Migration safety, the pure part: PostgreSQL statements in, findings and decisions out.

How the pieces fit:

- ``sql`` parses a script with libpg_query (pglast) into statements with positions;
- ``effects`` (with ``altertable``, ``types``, ``volatility``) says what each
  statement does to each table: the lock it takes (``locks.LockMode``) and the work
  it does (catalog change, rows, full scan, rewrite). This model is what
  tests/migrations/test_verify_corpus.py checks against a real server;
- ``facts`` and ``schema`` hold what earlier migrations and the schema file taught
  (column types, validated constraints, indexes); ``state`` follows one
  migration's transactions, timeouts and the locks it holds;
- ``rules`` (one module per rule) turn effects and state into findings; ``lint``
  runs them, applies ``directives`` (suppressions, phase annotations) and returns
  findings per migration; ``report`` renders them (text, JSON, GitHub, SARIF);
- ``phases``, ``plan`` and ``gate`` classify migrations as expand, migrate or
  contract, sequence the deploys, and decide whether a release's migrations may
  run while other releases are running;
- ``backfill``, ``querylog`` and ``compat`` are the decisions behind the backfill
  and check-compat commands, whose I/O lives in :mod:`turnout.migrations`.

Nothing here does I/O.
"""
