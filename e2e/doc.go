// Package e2e holds lbhc's end-to-end tests: real lbhc processes in network
// namespaces the tests create (a bridge in a "hub" namespace, one namespace
// per node), failure injection with real signals and link changes, and
// samplers that record, every 20 ms, which nodes answer the probe. It has no
// non-test code; run it as root via scripts/test.sh.
package e2e
