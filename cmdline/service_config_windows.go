//go:build windows

package cmdline

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"golang.org/x/sys/windows/svc/mgr"
)

func parseStartType(s string) (uint32, error) {
	switch s {
	case "auto":
		return mgr.StartAutomatic, nil
	case "manual":
		return mgr.StartManual, nil
	case "disabled":
		return mgr.StartDisabled, nil
	}
	return 0, flagErr("start", "%q is not one of auto, manual, disabled", s)
}

var serviceNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$`)

func checkServiceName(name string) error {
	if !serviceNameRE.MatchString(name) {
		return flagErr("name", "%q: use 1-80 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// readEnvFile reads VAR=value lines: blank lines and lines starting with #
// or ; are skipped, one pair of matching surrounding quotes is removed from
// the value. No expansion, no `export`: the subset of systemd's
// EnvironmentFile syntax that /etc/default/lbhc uses, so one annotated file
// serves both systems.
func readEnvFile(path string) ([][2]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, flagErr("env-file", "%v", err)
	}
	defer f.Close()
	env, err := parseEnvFile(f)
	if err != nil {
		return nil, flagErr("env-file", "%s: %v", path, err)
	}
	return env, nil
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func parseEnvFile(r io.Reader) ([][2]string, error) {
	var env [][2]string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff") // Notepad's UTF-8 BOM
		}
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok {
			return nil, fmt.Errorf("line %d: want NAME=value", n)
		}
		if !envNameRE.MatchString(k) {
			return nil, fmt.Errorf("line %d: invalid variable name %q", n, k)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		env = append(env, [2]string{k, v})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return env, nil
}
