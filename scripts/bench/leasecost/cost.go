package leasecost

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
)

// HoursPerMonth is the month the prices are quoted for (365 × 24 / 12).
const HoursPerMonth = 730

// Prices is docs/prices.json: list prices, each with its source and the
// date it was stated, and which price each counted operation pays.
type Prices struct {
	Note   string           `json:"note"`
	Prices map[string]Price `json:"prices"`
	// Operations maps backend → operation (as the counting proxy names
	// it) → price id; "free" for operations the service does not bill.
	Operations map[string]map[string]string `json:"operations"`
}

// Price is one list price.
type Price struct {
	USDPerMillion float64 `json:"usd_per_million"`
	What          string  `json:"what"`
	Source        string  `json:"source"`
	AsOf          string  `json:"as_of"` // the date the price is stated for
}

// Counts is docs/leasecost.json: what scripts/bench/leasecost.sh counted.
type Counts struct {
	Command string `json:"command"`
	Date    string `json:"date"`
	Window  string `json:"window"` // counting window per backend
	Timing  string `json:"timing"` // lease-ttl/renew-deadline/retry-period
	Runs    []Run  `json:"runs"`
}

// Run is one 2-node group on one backend: requests per hour by operation
// for the leader and the follower.
type Run struct {
	Backend  string             `json:"backend"` // dynamodb, azblob-native, azblob-record, etcd, gcs
	Pricing  string             `json:"pricing"` // key into Prices.Operations; "" = self-hosted
	Leader   map[string]float64 `json:"leader_per_hour"`
	Follower map[string]float64 `json:"follower_per_hour"`
}

// ReadJSON decodes path into v, refusing unknown fields.
func ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// perHour is the total requests per hour of one node.
func perHour(ops map[string]float64) (n float64) {
	for _, v := range ops {
		n += v
	}
	return n
}

// Monthly is what one node's requests cost a month.
func (p Prices) Monthly(pricing string, ops map[string]float64) (float64, error) {
	table, ok := p.Operations[pricing]
	if !ok {
		return 0, fmt.Errorf("no operations priced for %q", pricing)
	}
	var usd float64
	for op, n := range ops {
		id, ok := table[op]
		if !ok {
			return 0, fmt.Errorf("%s: operation %q has no price in docs/prices.json", pricing, op)
		}
		if id == "free" {
			continue
		}
		pr, ok := p.Prices[id]
		if !ok {
			return 0, fmt.Errorf("%s: price %q of %q is not listed", pricing, id, op)
		}
		usd += n * HoursPerMonth * pr.USDPerMillion / 1e6
	}
	return usd, nil
}

func opsString(ops map[string]float64) string {
	keys := make([]string, 0, len(ops))
	for k := range ops {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %s", k, thousands(ops[k])))
	}
	return strings.Join(parts, ", ")
}

func thousands(f float64) string {
	s := fmt.Sprintf("%.0f", f)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Table renders the README cost table from the counts and the prices.
func Table(c Counts, p Prices) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "| backend | leader: requests per hour | follower: requests per hour | 2-node group per month |\n")
	fmt.Fprintf(&b, "|---|---|---|---|\n")
	for _, r := range c.Runs {
		cost := "self-hosted: no per-request price"
		if r.Pricing != "" {
			l, err := p.Monthly(r.Pricing, r.Leader)
			if err != nil {
				return "", err
			}
			f, err := p.Monthly(r.Pricing, r.Follower)
			if err != nil {
				return "", err
			}
			cost = fmt.Sprintf("$%.2f", l+f)
		}
		fmt.Fprintf(&b, "| %s | %s (%s) | %s (%s) | %s |\n", r.Backend,
			thousands(perHour(r.Leader)), opsString(r.Leader), thousands(perHour(r.Follower)), opsString(r.Follower), cost)
	}
	return b.String(), nil
}
