//go:build unix

package agent

// socketRequired: a unix socket that cannot be created stops the start-up
// (the CLI's commands depend on it).
const socketRequired = true
