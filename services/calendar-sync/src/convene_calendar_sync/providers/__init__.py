"""Provider adapters: one interface (:mod:`.base`), one module per provider.

Adapters are the only code that talks to a provider. They speak the domain's value objects
(:mod:`convene_calendar_sync.domain.calendar_events`) and raise the errors of :mod:`.base`,
so the service layer never sees a provider's wire format or exception types.
"""
