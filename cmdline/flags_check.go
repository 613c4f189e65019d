package cmdline

import (
	"strings"

	"github.com/lbhc/lbhc/check"
	"github.com/urfave/cli/v2"
)

// checkSpecs collects the raw --check values. $LBHC_CHECK and the command
// line are kept apart so that command-line --check values replace the
// environment's instead of adding to them (as for urfave's slice flags).
type checkSpecs struct {
	env []string // from $LBHC_CHECK
	cli []string // one entry per --check
}

// checkEnvValue is the flag's Value: urfave sets it once from $LBHC_CHECK.
type checkEnvValue struct{ s *checkSpecs }

func (v *checkEnvValue) Set(s string) error { v.s.env = []string{s}; return nil }
func (v *checkEnvValue) String() string     { return "" }

// checkCLIValue is the flag's Destination: the flag package sets it once per
// --check on the command line.
type checkCLIValue struct{ s *checkSpecs }

func (v *checkCLIValue) Set(s string) error { v.s.cli = append(v.s.cli, s); return nil }

func (v *checkCLIValue) String() string {
	if v == nil || v.s == nil {
		return ""
	}
	return strings.Join(v.s.raw(), "\n")
}

// raw is the values in effect: the command line's, else the environment's.
func (s *checkSpecs) raw() []string {
	if len(s.cli) > 0 {
		return s.cli
	}
	return s.env
}

// checkFlags are the application check flags of `lbhc run`: a node whose
// application fails its checks does not lead.
func checkFlags() []cli.Flag {
	specs := &checkSpecs{}
	const cat = "Application checks"
	return []cli.Flag{
		&cli.GenericFlag{
			Name:     "check",
			Category: cat,
			Usage: "application check (repeatable; all must pass to lead): tcp://host:port, " +
				"http[s]://host[:port]/path[#expect=text] (2xx, body contains text), exec:/path/to/command args (exit 0). " +
				"Separate several in one value or $LBHC_CHECK by newlines or by ';' before the next scheme",
			EnvVars:     envs("check"),
			Value:       &checkEnvValue{s: specs},
			Destination: &checkCLIValue{s: specs},
		},
		&cli.DurationFlag{
			Name:     "check-interval",
			Category: cat,
			Usage:    "time between two runs of each check",
			Value:    check.DefaultConfig.Interval,
			EnvVars:  envs("check-interval"),
		},
		&cli.DurationFlag{
			Name:     "check-timeout",
			Category: cat,
			Usage:    "limit of one check run (at most --check-interval); a run that takes longer fails",
			Value:    check.DefaultConfig.Timeout,
			EnvVars:  envs("check-timeout"),
		},
		&cli.IntFlag{
			Name:     "check-fall",
			Category: cat,
			Usage:    "consecutive failures that make a healthy check unhealthy",
			Value:    check.DefaultConfig.Fall,
			EnvVars:  envs("check-fall"),
		},
		&cli.IntFlag{
			Name:     "check-rise",
			Category: cat,
			Usage:    "consecutive successes that make a check healthy (also at start-up)",
			Value:    check.DefaultConfig.Rise,
			EnvVars:  envs("check-rise"),
		},
		&cli.PathFlag{
			Name:      "check-tls-ca-file",
			Category:  cat,
			Usage:     "PEM file of the CA certificates that https:// checks trust (default: the system's)",
			EnvVars:   envs("check-tls-ca-file"),
			TakesFile: true,
		},
		&cli.BoolFlag{
			Name:     "check-tls-skip-verify",
			Category: cat,
			Usage:    "https:// checks accept any server certificate (self-signed application certificates)",
			EnvVars:  envs("check-tls-skip-verify"),
		},
	}
}

// checkConfig turns the check flags into checks and their timing. Errors
// are configuration errors (exit status 2) naming the flag.
func checkConfig(c *cli.Context) ([]check.Check, check.Config, error) {
	cfg := check.Config{
		Interval: c.Duration("check-interval"),
		Timeout:  c.Duration("check-timeout"),
		Fall:     c.Int("check-fall"),
		Rise:     c.Int("check-rise"),
	}
	if err := cfg.Validate(); err != nil {
		return nil, cfg, err
	}

	var opt check.Options
	caFile := c.Path("check-tls-ca-file")
	opt.InsecureSkipVerify = c.Bool("check-tls-skip-verify")
	if caFile != "" {
		if opt.InsecureSkipVerify {
			return nil, cfg, flagErr("check-tls-skip-verify", "cannot be combined with --check-tls-ca-file")
		}
		pool, err := check.LoadCAFile("check-tls-ca-file", caFile)
		if err != nil {
			return nil, cfg, err
		}
		opt.RootCAs = pool
	}

	var raw []string
	if v, ok := c.Generic("check").(*checkCLIValue); ok && v.s != nil {
		raw = v.s.raw()
	}
	var checks []check.Check
	for _, value := range raw {
		specs := check.SplitSpecs(value)
		if len(specs) == 0 {
			specs = []string{value} // blank: let Parse report it
		}
		for _, spec := range specs {
			ch, err := check.ParseWith(spec, opt)
			if err != nil {
				return nil, cfg, err
			}
			checks = append(checks, ch)
		}
	}
	return checks, cfg, nil
}
