"""meeting-watcher: an example consumer of Convene's meeting events.

Written as a team outside Convene would write it, with the published ``convene-schemas``
package and a Kafka client, nothing else of Convene's:

- :mod:`meeting_watcher.parsing` turns a Kafka record into a meeting event or a reason to
  skip it (pure, no I/O);
- :mod:`meeting_watcher.store` remembers what was seen in a SQLite file, idempotently;
- :mod:`meeting_watcher.consumer` is the loop: its own consumer group, offsets committed
  only after the store has the batch;
- :mod:`meeting_watcher.__main__` reads the settings and runs the loop until SIGTERM.
"""
