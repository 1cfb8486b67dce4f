"""The server-rendered public page (``/<url_prefix>/<slug>``): what the visitor's browser gets,
with or without JavaScript. The routes are in :mod:`convene_booking_pages.api.web`; here are
the visitor's choices read from the query (:mod:`.visit`), the free times of the shown month
(:mod:`.service`, over :mod:`convene_booking_pages.public`), the form (:mod:`.forms`), the
.ics (:mod:`.ics`), the messages and dates per language (:mod:`.i18n`, ``catalogues/``),
and the templates and static files (:mod:`.rendering`, ``templates/``, ``static/``).
"""
