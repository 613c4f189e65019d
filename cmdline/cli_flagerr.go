package cmdline

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// The flag package and urfave/cli report a value that does not parse as
// `invalid value "15" for flag -lease-ttl: parse error`: one dash, and no
// word on what a valid value looks like. flagParseError rewrites those
// messages into lbhc's form (`invalid --lease-ttl: ...`) with an example of
// a valid value for the flag's type.
var (
	reFlagValue = regexp.MustCompile(`^invalid value "(.*)" for flag -([\w.-]+): (.*)$`)
	reFlagBool  = regexp.MustCompile(`^invalid boolean value "(.*)" for -([\w.-]+): (.*)$`)
	reEnvValue  = regexp.MustCompile(`^could not parse "(.*)" as .* value from environment variable "(\w+)" for flag ([\w.-]+): (.*)$`)
	reUndefined = regexp.MustCompile(`^flag provided but not defined: -([\w.-]+)$`)
	reNoValue   = regexp.MustCompile(`^flag needs an argument: -([\w.-]+)$`)
)

// flagParseError turns a flag parse error of cmd into a usageError naming
// the flag with two dashes; other errors keep their text.
func flagParseError(cmd *cli.Command, err error) error {
	msg := err.Error()
	if m := reFlagValue.FindStringSubmatch(msg); m != nil {
		return flagErr(m[2], "%s", valueHint(findFlag(cmd, m[2]), m[1], m[3]))
	}
	if m := reFlagBool.FindStringSubmatch(msg); m != nil {
		return flagErr(m[2], "%s", valueHint(findFlag(cmd, m[2]), m[1], m[3]))
	}
	if m := reEnvValue.FindStringSubmatch(msg); m != nil {
		return &usageError{Flag: m[3] + " (from $" + m[2] + ")", Msg: valueHint(findFlag(cmd, m[3]), m[1], m[4])}
	}
	if m := reNoValue.FindStringSubmatch(msg); m != nil {
		return flagErr(m[1], "needs a value%s", valueExample(findFlag(cmd, m[1]), m[1]))
	}
	if m := reUndefined.FindStringSubmatch(msg); m != nil {
		return &usageError{Msg: unknownFlag(cmd, m[1])}
	}
	return &usageError{Msg: msg}
}

// valueHint says why value is not valid for flag f and what a valid one
// looks like. detail is the parser's own reason, used when the type is not
// known.
func valueHint(f cli.Flag, value, detail string) string {
	switch f.(type) {
	case *cli.DurationFlag:
		if _, err := strconv.ParseFloat(value, 64); err == nil {
			return fmt.Sprintf("%q has no unit; write a duration such as %q (units: ms, s, m, h)", value, value+"s")
		}
		return fmt.Sprintf("%q is not a duration; write one such as \"15s\", \"500ms\" or \"1m30s\"", value)
	case *cli.IntSliceFlag:
		for _, item := range strings.Split(value, ",") {
			if _, err := strconv.Atoi(strings.TrimSpace(item)); err != nil {
				if item == value {
					return fmt.Sprintf("%q is not a whole number; write numbers separated by commas, e.g. \"26001,26002\"", item)
				}
				return fmt.Sprintf("item %q of %q is not a whole number; write numbers separated by commas, e.g. \"26001,26002\"", item, value)
			}
		}
	case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Uint64Flag:
		return fmt.Sprintf("%q is not a whole number, e.g. \"3\"", value)
	case *cli.BoolFlag:
		return fmt.Sprintf("%q is not true or false", value)
	case *cli.Float64Flag:
		return fmt.Sprintf("%q is not a number, e.g. \"0.5\"", value)
	}
	return fmt.Sprintf("%q: %s", value, detail)
}

// valueExample shows a valid use of a flag of f's type, e.g.
// ", e.g. --lease-ttl 15s"; "" when the type has no obvious example.
func valueExample(f cli.Flag, name string) string {
	switch f.(type) {
	case *cli.DurationFlag:
		return ", e.g. --" + name + " 15s"
	case *cli.IntSliceFlag:
		return ", e.g. --" + name + " 26001,26002"
	case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Uint64Flag:
		return ", e.g. --" + name + " 3"
	}
	return ""
}

func findFlag(cmd *cli.Command, name string) cli.Flag {
	if cmd == nil {
		return nil
	}
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// unknownFlag names the flag and, for a likely typo, the flag meant.
func unknownFlag(cmd *cli.Command, name string) string {
	msg := "unknown flag --" + name
	best, bestDist := "", 3 // suggest only within two edits
	if cmd != nil {
		for _, f := range cmd.Flags {
			for _, n := range f.Names() {
				if d := editDistance(name, n); d < bestDist {
					best, bestDist = n, d
				}
			}
		}
	}
	if best != "" {
		return msg + " (did you mean --" + best + "?)"
	}
	if cmd != nil && cmd.Name != "" {
		return msg + " (see 'lbhc " + cmd.Name + " --help')"
	}
	return msg + " (see 'lbhc --help')"
}

// editDistance is the Levenshtein distance of a and b (bytes: flag names
// are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
