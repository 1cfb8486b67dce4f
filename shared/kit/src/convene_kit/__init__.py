"""Convene's runtime kit: what every service process shares.

Modules: ``settings`` (ServiceSettings), ``logging`` (JSON logs, context, redaction),
``metrics``, ``store`` (MongoStore, IndexSpec, AccountScopedCollection), ``kafka``
(build_broker, EventPublisher), ``outbox`` + ``relay`` (transactional outbox without
transactions), ``idempotency`` (ProcessedEvents, apply_if_newer), ``consumer`` + ``dlq``
(safe consumption, dead letters, replay CLI), ``http`` (create_app, ApiError), ``auth``
(JwtVerifier, Principal), ``devtokens`` (dev keys and tokens), ``runtime`` (ServiceRuntime,
serve).
"""
