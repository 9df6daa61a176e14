"""Operating a server: health and readiness, Prometheus metrics, structured logs."""
