package opscheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Uses is what a shipped file asks of the binary: command lines (argv
// after the program) and environment variable names.
type Uses struct {
	Argv [][]string
	Env  []string
}

func (u *Uses) addArgv(argv []string) {
	if len(argv) > 0 {
		u.Argv = append(u.Argv, argv)
	}
}

// isLbhc reports whether prog is the lbhc binary (any directory, .exe).
func isLbhc(prog string) bool {
	return strings.TrimSuffix(path.Base(strings.ReplaceAll(prog, `\`, "/")), ".exe") == "lbhc"
}

// SystemdUses reads a unit file: Exec*= command lines running lbhc and the
// names set by Environment=.
func SystemdUses(data []byte) (Uses, error) {
	var u Uses
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		key, val, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		switch {
		case strings.HasPrefix(key, "Exec"):
			f := strings.Fields(strings.TrimLeft(val, "-@:+!"))
			if len(f) > 0 && isLbhc(f[0]) {
				u.addArgv(f[1:])
			}
		case key == "Environment":
			for _, kv := range strings.Fields(val) {
				name, _, _ := strings.Cut(strings.Trim(kv, `"'`), "=")
				u.Env = append(u.Env, name)
			}
		}
	}
	return u, nil
}

// envLineRe matches VAR=value lines, commented out or not, as in the
// /etc/default example and the Windows installer's env file.
var envLineRe = regexp.MustCompile(`(?m)^\s*#?\s*(LBHC_[A-Z0-9_]+)=`)

// EnvFileUses reads an environment file (VAR=value lines, # comments; a
// commented-out assignment is a documented variable and checked too).
func EnvFileUses(data []byte) (Uses, error) {
	var u Uses
	for _, m := range envLineRe.FindAllStringSubmatch(string(data), -1) {
		u.Env = append(u.Env, m[1])
	}
	return u, nil
}

// DockerfileUses reads ENTRYPOINT + CMD (exec form) of the last stage and
// ENV names.
func DockerfileUses(data []byte) (Uses, error) {
	var u Uses
	var entry, cmd []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), f[0]))
		switch strings.ToUpper(f[0]) {
		case "FROM":
			entry, cmd = nil, nil
		case "ENTRYPOINT", "CMD":
			var argv []string
			if err := json.Unmarshal([]byte(rest), &argv); err != nil {
				return u, fmt.Errorf("%s must be exec form (a JSON array): %w", f[0], err)
			}
			if strings.ToUpper(f[0]) == "ENTRYPOINT" {
				entry = argv
			} else {
				cmd = argv
			}
		case "ENV":
			for _, kv := range f[1:] {
				name, _, _ := strings.Cut(kv, "=")
				u.Env = append(u.Env, name)
			}
		}
	}
	if len(entry) == 0 || !isLbhc(entry[0]) {
		return u, fmt.Errorf("ENTRYPOINT %q does not run lbhc", entry)
	}
	u.addArgv(append(entry[1:len(entry):len(entry)], cmd...))
	return u, nil
}

// stringList decodes a YAML command/args value: a list or one string.
func stringList(n any) []string {
	switch v := n.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

// envNames decodes a compose/Kubernetes environment: a map, a list of
// VAR=value strings, or a list of {name: VAR} objects.
func envNames(n any) []string {
	var out []string
	switch v := n.(type) {
	case map[string]any:
		for k := range v {
			out = append(out, k)
		}
	case []any:
		for _, x := range v {
			switch e := x.(type) {
			case string:
				name, _, _ := strings.Cut(e, "=")
				out = append(out, name)
			case map[string]any:
				if name, ok := e["name"].(string); ok {
					out = append(out, name)
				}
			}
		}
	}
	return out
}

// ComposeUses reads a compose file: each service's command (after the
// image's ENTRYPOINT, lbhc) or entrypoint, and environment names.
func ComposeUses(data []byte) (Uses, error) {
	var f struct {
		Services map[string]map[string]any `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return Uses{}, fmt.Errorf("compose: %w", err)
	}
	var u Uses
	for _, s := range f.Services {
		argv := stringList(s["command"])
		if e := stringList(s["entrypoint"]); len(e) > 0 {
			if !isLbhc(e[0]) {
				continue
			}
			argv = append(e[1:len(e):len(e)], argv...)
		}
		u.addArgv(argv)
		u.Env = append(u.Env, envNames(s["environment"])...)
	}
	return u, nil
}

// KubernetesUses reads a multi-document manifest: ConfigMap keys, and per
// pod template container its command/args and env names.
func KubernetesUses(data []byte) (Uses, error) {
	var u Uses
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return u, fmt.Errorf("manifest: %w", err)
		}
		switch doc["kind"] {
		case "ConfigMap":
			if d, ok := doc["data"].(map[string]any); ok {
				for k := range d {
					u.Env = append(u.Env, k)
				}
			}
		case "DaemonSet", "Deployment", "StatefulSet", "Pod":
			spec, _ := doc["spec"].(map[string]any)
			if tmpl, ok := spec["template"].(map[string]any); ok {
				spec, _ = tmpl["spec"].(map[string]any)
			}
			containers, _ := spec["containers"].([]any)
			for _, c := range containers {
				cm, _ := c.(map[string]any)
				argv := stringList(cm["args"])
				if cmd := stringList(cm["command"]); len(cmd) > 0 {
					if !isLbhc(cmd[0]) {
						continue
					}
					argv = append(cmd[1:len(cmd):len(cmd)], argv...)
				}
				u.addArgv(argv)
				u.Env = append(u.Env, envNames(cm["env"])...)
			}
		}
	}
	return u, nil
}
