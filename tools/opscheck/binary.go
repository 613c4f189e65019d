package opscheck

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// Binary is what an lbhc binary accepts, as it reports itself.
type Binary struct {
	// Flags per command ("run", "status", ...; nested: "service run"),
	// without the leading dashes.
	Flags map[string]map[string]bool
	// Env are the LBHC_* variables any command reads.
	Env map[string]bool
}

// envRe matches urfave/cli's help annotation [$LBHC_A, $LBHC_B].
var envRe = regexp.MustCompile(`\$(LBHC_[A-Z0-9_]+)`)

// LoadBinary asks bin for its commands and flags: urfave/cli's
// --generate-bash-completion lists subcommands, and flags after a word
// starting with "-" (the same source completion/lbhc.bash uses); --help
// shows each flag's environment variables.
func LoadBinary(bin string) (Binary, error) {
	b := Binary{Flags: map[string]map[string]bool{}, Env: map[string]bool{}}
	run := func(args ...string) (string, error) {
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", bin, strings.Join(args, " "), err)
		}
		return string(out), nil
	}
	top, err := run("--generate-bash-completion")
	if err != nil {
		return b, err
	}
	// "service" is hidden from completion on Linux but shipped files
	// (the Windows installer) use it.
	cmds := append(strings.Fields(top), "service")
	for i := 0; i < len(cmds); i++ {
		cmd := cmds[i]
		words := strings.Fields(cmd)
		if words[len(words)-1] == "help" || words[len(words)-1] == "h" {
			continue
		}
		flags, err := run(append(words, "-", "--generate-bash-completion")...)
		if err != nil {
			return b, err
		}
		set := map[string]bool{}
		for _, f := range strings.Fields(flags) {
			set[strings.TrimLeft(f, "-")] = true
		}
		b.Flags[cmd] = set
		// The Linux stub of the Windows-only "service" commands prints
		// its help and exits 1; the variables in the help text count.
		help, _ := exec.Command(bin, append(words, "--help")...).Output()
		for _, m := range envRe.FindAllStringSubmatch(string(help), -1) {
			b.Env[m[1]] = true
		}
		if len(words) == 1 {
			subs, err := run(words[0], "--generate-bash-completion")
			if err != nil {
				return b, err
			}
			for _, s := range strings.Fields(subs) {
				if !strings.HasPrefix(s, "-") && s != "help" && s != "h" {
					cmds = append(cmds, cmd+" "+s)
				}
			}
		}
	}
	if len(b.Flags["run"]) < 10 || !b.Env["LBHC_LEASE_TTL"] {
		return b, fmt.Errorf("%s: run has %d flags and no LBHC_LEASE_TTL: not an lbhc binary?", bin, len(b.Flags["run"]))
	}
	return b, nil
}

// CheckArgv checks one command line (after the program name): the command
// must exist and every --flag must belong to it.
func (b Binary) CheckArgv(argv []string) error {
	if len(argv) == 0 {
		return fmt.Errorf("no command")
	}
	cmd := argv[0]
	rest := argv[1:]
	if len(rest) > 0 && b.Flags[cmd+" "+rest[0]] != nil {
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	flags, ok := b.Flags[cmd]
	if !ok {
		return fmt.Errorf("lbhc has no command %q", cmd)
	}
	var bad []string
	for _, a := range rest {
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !flags[name] {
			bad = append(bad, "--"+name)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("lbhc %s has no flag %s", cmd, strings.Join(bad, ", "))
	}
	return nil
}

// CheckEnv returns the LBHC_* names the binary does not read.
func (b Binary) CheckEnv(names []string) error {
	var bad []string
	for _, n := range names {
		if strings.HasPrefix(n, "LBHC_") && !b.Env[n] {
			bad = append(bad, n)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("lbhc reads no variable %s", strings.Join(bad, ", "))
	}
	return nil
}
