"""Convene's runtime kit: what every service process shares.

Modules: ``settings`` (ServiceSettings), ``clock`` (Clock, utc_now), ``logging`` (JSON logs,
context, redaction), ``metrics``, ``store`` (MongoStore, find_all, IndexSpec,
AccountScopedCollection), ``kafka`` (build_broker, EventPublisher), ``outbox`` + ``relay``
(transactional outbox without transactions, publish_and_clear), ``claims`` (unique-insert
claims and leases), ``revisions`` + ``aggregates`` (versioned aggregates: VersionedRepository,
Aggregates), ``idempotency`` (ProcessedEvents, apply_if_newer), ``read_models`` (VersionedReadModel:
another service's aggregates kept by version), ``timers`` (durable timers with kinds and their
scheduler), ``secret_box`` (AES-GCM keyring for secrets at rest), ``egress`` (the SSRF guard
for user-supplied URLs), ``consumer`` + ``lanes`` +
``dlq`` (safe consumption, partitions in parallel, dead letters, replay CLI), ``periodic``
(background loops), ``http`` (create_app, ApiError), ``refusals`` (the domains' refusals),
``rate_limit`` (per-key limits, 429), ``service_tokens`` (service-to-service reads), ``auth``
(JwtVerifier, Principal),
``paging`` (keyset cursors), ``devtokens`` (dev keys and tokens), ``runtime``
(ServiceRuntime, serve), ``testing`` (test helpers and the in-memory store fake).
"""
