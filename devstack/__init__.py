"""What a user runs on one machine: the fake Kubernetes API (kube_api, objects), private
PostgreSQL, Redis and Prometheus servers (servers), and the whole loop built from them
(stack) that `make demo` (demo) and the end-to-end tests drive."""
