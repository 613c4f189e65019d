package opscheck

import (
	"fmt"
	"sort"
	"strings"
)

// CheckRunbooks returns one error per alert whose runbook annotation is not
// "README.md#<id>" with an `<a id="<id>">` anchor in readme: the link an
// alert notification carries must land on its runbook entry.
func CheckRunbooks(r Rules, readme []byte) []error {
	alerts := make([]string, 0, len(r.Runbooks))
	for a := range r.Runbooks {
		alerts = append(alerts, a)
	}
	sort.Strings(alerts)
	var errs []error
	for _, a := range alerts {
		id, ok := strings.CutPrefix(r.Runbooks[a], "README.md#")
		switch {
		case !ok || id == "":
			errs = append(errs, fmt.Errorf("alert %s: runbook %q, want README.md#<anchor>", a, r.Runbooks[a]))
		case !strings.Contains(string(readme), `<a id="`+id+`">`):
			errs = append(errs, fmt.Errorf("alert %s: README.md has no anchor <a id=%q>", a, id))
		}
	}
	return errs
}
