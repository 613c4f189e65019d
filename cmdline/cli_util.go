package cmdline

import (
	"errors"
	"fmt"
	"strings"
)

// envs returns the environment variable that mirrors a run flag:
// --lease-ttl ↔ LBHC_LEASE_TTL (DESIGN.md, interface conventions).
func envs(flag string) []string {
	return []string{"LBHC_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))}
}

// usageError is invalid configuration: lbhc exits 2 and prints one line
// naming the flag.
type usageError struct {
	flag string
	msg  string
}

func (e *usageError) Error() string {
	if e.flag == "" {
		return e.msg
	}
	return "invalid --" + e.flag + ": " + e.msg
}

func (e *usageError) ExitCode() int { return 2 }

// flagErr builds a usageError for --flag.
func flagErr(flag, format string, args ...any) error {
	return &usageError{flag: flag, msg: fmt.Sprintf(format, args...)}
}

// exitCode maps an error to lbhc's exit codes: 0 ok, 2 bad configuration
// (any error in the chain with ExitCode() == 2, whichever package made it),
// 1 runtime failure.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}
