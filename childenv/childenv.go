// Package childenv is the one environment filter for every process lbhc
// starts (cloud hooks, exec checks): lbhc's own LBHC_* variables are its
// configuration, some of them secrets (LBHC_AZURE_STORAGE_KEY,
// LBHC_AZURE_STORAGE_CONNECTION_STRING, ...), and no child needs them.
package childenv

import "strings"

// prefix is lbhc's configuration namespace (every run flag has an
// environment variable LBHC_<FLAG>). Compared without regard to case: Windows environment names
// are case-insensitive, so lbhc_storage_key is the same variable there.
const prefix = "LBHC_"

// Base returns environ (os.Environ's form, NAME=value) without lbhc's own
// variables, in the same order. Callers append what the child should see
// in that namespace (a hook's LBHC_EVENT, LBHC_TERM, ...).
func Base(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		if len(kv) >= len(prefix) && strings.EqualFold(kv[:len(prefix)], prefix) {
			continue
		}
		out = append(out, kv)
	}
	return out
}
