// Package configerr is lbhc's one error type for bad input: a flag (or a
// resource named by one) whose value is not valid. Every part returns it
// from its validation (probe, vip, election and its stores, check, the
// command line), and the command line prints it on one line and exits 2
// before anything has changed on the system.
package configerr

import "fmt"

// Error is invalid configuration: lbhc exits with status 2 and prints the
// message, which names the flag with two dashes.
type Error struct {
	Flag string // without dashes, e.g. "vip-interface"; "" when no single flag is at fault
	Msg  string
}

func (e *Error) Error() string {
	if e.Flag == "" {
		return e.Msg
	}
	return "invalid --" + e.Flag + ": " + e.Msg
}

// ExitCode is 2: bad configuration.
func (e *Error) ExitCode() int { return 2 }

// New returns an *Error for --flag with a formatted message.
func New(flag, format string, args ...any) error {
	return &Error{Flag: flag, Msg: fmt.Sprintf(format, args...)}
}
