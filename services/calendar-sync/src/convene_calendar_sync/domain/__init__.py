"""calendar-sync's domain: provider connections, calendars, sync cursors and busy time.

Pure code only (no I/O imports). The skeleton has no rules yet; connections arrive with the
calendar-sync issue.
"""
