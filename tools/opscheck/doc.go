// Package opscheck checks lbhc's operations kit against the binary: every
// PromQL expression in packaging/grafana/lbhc.json and
// packaging/prometheus/lbhc-rules.yaml parses with Prometheus's own query
// parser and names only metrics, and in its matchers only labels, that a
// real scrape of a running lbhc exposes; every alert's runbook annotation
// points at an anchor of README.md; every flag and LBHC_* variable in a shipped file (systemd units,
// /etc/default example, Dockerfile, compose, Kubernetes manifest, Windows
// installer) is one the binary accepts.
//
// It is a separate Go module so that the Prometheus server packages (the
// parser) never enter lbhc's own go.mod or binary. scripts/e2e/test_opskit.sh
// runs it.
package opscheck
