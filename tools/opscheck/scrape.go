package opscheck

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Scrape is what one /metrics document (Prometheus text format) exposes.
type Scrape struct {
	// Series are the sample names: a classic histogram x appears as
	// x_bucket, x_sum and x_count, a summary as x, x_sum and x_count.
	Series map[string]bool
	// Histograms are the base names of histogram families: x itself is not
	// a series, a query must use one of the suffixed names.
	Histograms map[string]bool
	// Labels are the label names each series name carries in the scrape
	// (on any of its samples). A name absent here is not checked for
	// labels (a hand-built Scrape in a test).
	Labels map[string]map[string]bool
}

// targetLabels are the labels Prometheus attaches to every series of a
// target; a scrape never shows them.
var targetLabels = map[string]bool{"job": true, "instance": true}

// ParseScrape reads the text exposition format. Only names matter here, so
// it reads the name before "{" or " " of every sample line, its label
// names, and the family types from "# TYPE" lines.
func ParseScrape(r io.Reader) (Scrape, error) {
	s := Scrape{Series: map[string]bool{}, Histograms: map[string]bool{}, Labels: map[string]map[string]bool{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line)
			if len(f) == 4 && (f[3] == "histogram" || f[3] == "gaugehistogram") {
				s.Histograms[f[2]] = true
			}
		case strings.HasPrefix(line, "#"):
		default:
			name := line
			if i := strings.IndexAny(line, "{ "); i >= 0 {
				name = line[:i]
			}
			s.Series[name] = true
			if s.Labels[name] == nil {
				s.Labels[name] = map[string]bool{}
			}
			if strings.HasPrefix(line[len(name):], "{") {
				names, err := labelNames(line[len(name)+1:])
				if err != nil {
					return s, fmt.Errorf("scrape: %s: %w", line, err)
				}
				for _, l := range names {
					s.Labels[name][l] = true
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return s, fmt.Errorf("scrape: %w", err)
	}
	if len(s.Series) == 0 {
		return s, fmt.Errorf("scrape: no samples")
	}
	return s, nil
}

// labelNames reads the label names of `a="x",b="y\"z"} 1` (the text after
// a sample's "{"); values may hold escaped quotes, commas and braces.
func labelNames(rest string) ([]string, error) {
	var names []string
	for {
		rest = strings.TrimLeft(rest, " ,")
		if strings.HasPrefix(rest, "}") {
			return names, nil
		}
		eq := strings.Index(rest, `="`)
		if eq <= 0 {
			return nil, fmt.Errorf("label set not closed")
		}
		names = append(names, strings.TrimSpace(rest[:eq]))
		rest = rest[eq+2:]
		i := 0
		for ; i < len(rest) && rest[i] != '"'; i++ {
			if rest[i] == '\\' {
				i++
			}
		}
		if i >= len(rest) {
			return nil, fmt.Errorf("label value not closed")
		}
		rest = rest[i+1:]
	}
}

// builtin are series Prometheus itself creates for every target.
var builtin = map[string]bool{
	"up": true, "scrape_duration_seconds": true, "scrape_samples_scraped": true,
	"scrape_samples_post_metric_relabeling": true, "scrape_series_added": true,
}

// CheckExprs parses every expression and returns one error per expression
// that does not parse or names a metric neither in the scrape, nor recorded
// by a rule, nor created by Prometheus for every target, and one per label
// matcher on a scraped metric whose label that metric does not carry (a
// renamed label makes `!=` and `!~` match everything, `=` nothing).
func CheckExprs(exprs []Expr, s Scrape, recorded map[string]bool) []error {
	var errs []error
	for _, e := range exprs {
		sels, err := Selectors(e.Query)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w\n\t%s", e.Where, err, e.Query))
			continue
		}
		errs = append(errs, checkLabels(e, sels, s)...)
		names, _ := MetricNames(e.Query)
		for _, n := range names {
			switch {
			case s.Series[n] || recorded[n] || builtin[n]:
			case s.Histograms[n]:
				errs = append(errs, fmt.Errorf("%s: %s is a histogram; query %s_bucket, %s_sum or %s_count", e.Where, n, n, n, n))
			default:
				errs = append(errs, fmt.Errorf("%s: metric %s is not in the scrape of a running lbhc", e.Where, n))
			}
		}
	}
	return errs
}

// checkLabels reports matchers on labels a scraped metric does not have.
func checkLabels(e Expr, sels []Selector, s Scrape) []error {
	var errs []error
	for _, sel := range sels {
		have, ok := s.Labels[sel.Metric]
		if !ok || !s.Series[sel.Metric] {
			continue // recorded, builtin, missing (reported by name), or no label data
		}
		for _, l := range sel.Labels {
			if !have[l] && !targetLabels[l] {
				errs = append(errs, fmt.Errorf("%s: label %s of %s is not in the scrape of a running lbhc (it has %s)",
					e.Where, l, sel.Metric, strings.Join(sortedKeys(have), ", ")))
			}
		}
	}
	return errs
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
