"""booking-pages's domain: scheduling pages, slugs, slot holds and bookings.

Pure code only (no I/O imports). The skeleton has no rules yet; pages arrive with the
booking-pages issue.
"""
