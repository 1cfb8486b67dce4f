"""records' service functions: what views and handlers call.

Each function takes :class:`~convene_records.service_layer.deps.RecordsDeps` (or one
repository) and applies the domain's rules; every kind is created, loaded and changed
through ``deps.aggregates`` (:class:`convene_kit.aggregates.Aggregates`), which stores the
change and publishes its events. Views and handlers stay a few lines each.
"""
