package opscheck

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// Expr is one PromQL expression and where it was found.
type Expr struct {
	Where string // e.g. `panel "Term" target A`, `alert LbhcNoLeader`
	Query string
}

// Rules holds the expressions of a Prometheus rule file and the names it
// records (recording rules create series a scrape never has).
type Rules struct {
	Exprs    []Expr
	Recorded map[string]bool
	// Runbooks is each alert's runbook annotation ("" when it has none).
	Runbooks map[string]string
}

// ParseRules reads a Prometheus rule file.
func ParseRules(data []byte) (Rules, error) {
	var f struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Record      string            `yaml:"record"`
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return Rules{}, fmt.Errorf("rule file: %w", err)
	}
	r := Rules{Recorded: map[string]bool{}, Runbooks: map[string]string{}}
	for _, g := range f.Groups {
		for _, rule := range g.Rules {
			where := "alert " + rule.Alert
			if rule.Record != "" {
				where = "record " + rule.Record
				r.Recorded[rule.Record] = true
			} else {
				r.Runbooks[rule.Alert] = rule.Annotations["runbook"]
			}
			r.Exprs = append(r.Exprs, Expr{Where: g.Name + ": " + where, Query: rule.Expr})
		}
	}
	if len(r.Exprs) == 0 {
		return r, fmt.Errorf("rule file: no rules")
	}
	return r, nil
}

// labelValuesRe matches Grafana's label_values(selector, label) variable
// query; the selector is PromQL, the wrapper is not.
var labelValuesRe = regexp.MustCompile(`^\s*label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)

// DashboardExprs returns every query of a Grafana dashboard: panel targets
// (rows' nested panels too), annotation queries and label_values variable
// queries.
func DashboardExprs(data []byte) ([]Expr, error) {
	var d map[string]any
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	var out []Expr
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if title, ok := v["title"].(string); ok {
				path += fmt.Sprintf(" %q", title)
			} else if name, ok := v["name"].(string); ok {
				path += " " + name
			}
			for k, x := range v {
				switch {
				case k == "expr":
					if s, ok := x.(string); ok {
						ref, _ := v["refId"].(string)
						out = append(out, Expr{Where: strings.TrimSpace(path + " " + ref), Query: s})
					}
				case k == "query" || k == "definition":
					if s, ok := x.(string); ok {
						if m := labelValuesRe.FindStringSubmatch(s); m != nil {
							out = append(out, Expr{Where: strings.TrimSpace(path + " variable"), Query: m[1]})
						}
					} else {
						walk(path, x)
					}
				default:
					walk(path, x)
				}
			}
		case []any:
			for _, x := range v {
				walk(path, x)
			}
		}
	}
	walk("dashboard", d)
	if len(out) == 0 {
		return nil, fmt.Errorf("dashboard: no queries")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Where+out[i].Query < out[j].Where+out[j].Query })
	return dedupe(out), nil
}

func dedupe(in []Expr) []Expr {
	var out []Expr
	for i, e := range in {
		if i > 0 && e == in[i-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}

// grafanaVarRe matches Grafana template variables: $name, ${name},
// ${name:format}, [[name]].
var grafanaVarRe = regexp.MustCompile(`\$\{[a-zA-Z0-9_]+(?::[a-zA-Z0-9_]+)?\}|\$[a-zA-Z_][a-zA-Z0-9_]*|\[\[[a-zA-Z0-9_]+\]\]`)

// expandGrafana replaces Grafana's variables with values the PromQL parser
// accepts: interval variables with a duration, the others with a word (they
// only occur inside label matcher strings in a valid dashboard; anywhere
// else the parser then fails, as Grafana's query would).
func expandGrafana(q string) string {
	return grafanaVarRe.ReplaceAllStringFunc(q, func(v string) string {
		name := strings.Trim(v, "${}[]")
		name, _, _ = strings.Cut(name, ":")
		switch name {
		case "__interval", "__rate_interval", "__range", "__range_s", "__interval_ms":
			return "1m"
		}
		return "x"
	})
}

// Selector is one vector selector of a query: its metric name and the
// label names its matchers use (__name__ aside).
type Selector struct {
	Metric string
	Labels []string
}

// Selectors parses q (after expanding Grafana variables) and returns its
// vector selectors. A selector without a fixed name (e.g.
// {__name__=~"..."}) is an error: the check could not vouch for it.
func Selectors(q string) ([]Selector, error) {
	p := parser.NewParser(parser.Options{})
	expr, err := p.ParseExpr(expandGrafana(q))
	if err != nil {
		return nil, err
	}
	var out []Selector
	var bad error
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		sel := Selector{Metric: vs.Name}
		for _, m := range vs.LabelMatchers {
			switch {
			case m.Name != labels.MetricName:
				sel.Labels = append(sel.Labels, m.Name)
			case m.Type == labels.MatchEqual && sel.Metric == "":
				sel.Metric = m.Value
			}
		}
		if sel.Metric == "" {
			bad = fmt.Errorf("selector %s has no fixed metric name", vs.String())
			return nil
		}
		out = append(out, sel)
		return nil
	})
	if bad != nil {
		return nil, bad
	}
	return out, nil
}

// MetricNames returns the metric names q's selectors use, sorted.
func MetricNames(q string) ([]string, error) {
	sels, err := Selectors(q)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, s := range sels {
		seen[s.Metric] = true
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}
