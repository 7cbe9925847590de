//! HTTP: health, readiness, Prometheus metrics, JSON API and the monitoring console.
