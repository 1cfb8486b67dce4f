"""Local infrastructure of the Convene monorepo: Kafka, PostgreSQL + FerretDB, Radicale and an
SMTP sink, fetched, started, health-checked and stopped by `python -m infra` (make infra-*)."""
