"""The resilience suite's tools: its own infrastructure instance, the supervised services,
a TCP fault proxy, bounded meeting runs and what became of them, a faulty records."""
