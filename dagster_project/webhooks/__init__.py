"""The webhook receiver: provider callbacks and link clicks in, one durable log line each out.

Contract: ``docs/outcomes.md``. Run it with ``make webhooks`` (``python -m
dagster_project.webhooks``). A wall: nothing here imports Dagster, DuckDB or the
activation package; the receiver never opens the warehouse. What a callback
becomes and the landing log it is appended to are contracts with ingest
(``contracts.events``, ``contracts.eventlog``). Modules:

``signatures``  Twilio's ``X-Twilio-Signature`` (pure)
``keywords``    a reply classified as opt-out / opt-in / help, or a free reply (pure)
``replies``     the transactional reply texts per language (``campaigns/settings/replies.yml``)
``config``      the receiver's settings from the environment
``formats``     the providers' wire formats: TwiML, Kannel's charset, sandbox JSON (pure)
``app``         the Starlette app: endpoints, authentication, answers
``logs``        event and access logs, phones masked and secrets left out
``__main__``    uvicorn on ``SMS_WEBHOOK_HOST``:``SMS_WEBHOOK_PORT``
"""
