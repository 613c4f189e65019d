package opscheck

import (
	"bufio"
	"fmt"
	"io"
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
}

// ParseScrape reads the text exposition format. Only names matter here, so
// it reads the name before "{" or " " of every sample line and the family
// types from "# TYPE" lines.
func ParseScrape(r io.Reader) (Scrape, error) {
	s := Scrape{Series: map[string]bool{}, Histograms: map[string]bool{}}
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

// builtin are series Prometheus itself creates for every target.
var builtin = map[string]bool{
	"up": true, "scrape_duration_seconds": true, "scrape_samples_scraped": true,
	"scrape_samples_post_metric_relabeling": true, "scrape_series_added": true,
}

// CheckExprs parses every expression and returns one error per expression
// that does not parse or names a metric neither in the scrape, nor recorded
// by a rule, nor created by Prometheus for every target.
func CheckExprs(exprs []Expr, s Scrape, recorded map[string]bool) []error {
	var errs []error
	for _, e := range exprs {
		names, err := MetricNames(e.Query)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w\n\t%s", e.Where, err, e.Query))
			continue
		}
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
