"""records' service functions: what views and handlers call.

Each function takes :class:`~convene_records.service_layer.deps.RecordsDeps` (or one
repository), applies the domain's rules, writes through a repository and publishes what the
write put in the outbox. Views and handlers stay a few lines each.
"""
