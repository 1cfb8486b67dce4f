"""Local stand-ins for the calendar providers that cannot be reached from here, driven by the
providers' official client libraries (see ../shared/design/providers.md)."""
