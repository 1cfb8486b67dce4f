"""notifications' domain: which emails an event calls for, their idempotency keys, the
iCalendar objects and MIME messages they carry.

Pure code only (no pymongo/faststream/aiokafka/fastapi/aiosmtplib imports): planning,
keys, addresses, the .ics and the message structure are testable in microseconds.
"""
