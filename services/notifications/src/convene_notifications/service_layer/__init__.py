"""notifications' service layer: the one email pipeline (``email_jobs`` over ``dispatch``,
retried by ``retry_worker``), the planners that hand it emails (``meeting_emails``,
``reminders``, ``owner_emails``), the durable timers (``timers``, with the ``reminder`` and
``join_link_fallback`` kinds) and the API's service functions (``emails``)."""
