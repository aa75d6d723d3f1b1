"""The webhook receiver: provider callbacks and link clicks in, one durable log line each out.

Contract: ``docs/outcomes.md``. Run it with ``make webhooks`` (``python -m
dagster_project.webhooks``). A wall: nothing here imports Dagster, DuckDB or the
activation package; the receiver never opens the warehouse. Modules:

``signatures``  Twilio's ``X-Twilio-Signature`` (pure)
``keywords``    a reply classified as opt-out / opt-in / help, or a free reply (pure)
``replies``     the transactional reply texts per language (``campaigns/settings/replies.yml``)
``events``      what one callback becomes: a landing-log record and its ``event_id`` (pure)
``eventlog``    the append-only landing log: durable appends and the reader ingest uses
``config``      the receiver's settings from the environment
``app``         the Starlette app: endpoints, authentication, answers
``__main__``    uvicorn on ``SMS_WEBHOOK_HOST``:``SMS_WEBHOOK_PORT``
"""
