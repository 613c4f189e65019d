package opscheck

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

type gridPos struct{ H, W, X, Y int }

type dashPanel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	GridPos    gridPos        `json:"gridPos"`
	Datasource map[string]any `json:"datasource"`
	Targets    []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// TestDashboardStructure: the things Grafana's import does not check but an
// operator would see as broken panels: every variable used is defined, the
// group and node variables exist and come from lbhc_group_info, panel ids
// are unique, panels use the datasource variable, and the grid has no
// overlaps and fits 24 columns.
func TestDashboardStructure(t *testing.T) {
	raw := read(t, "packaging/grafana/lbhc.json")
	var d struct {
		UID        string      `json:"uid"`
		Title      string      `json:"title"`
		Panels     []dashPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard needs uid and title (stable links, re-import replaces it)")
	}
	defined := map[string]string{}
	for _, v := range d.Templating.List {
		q, _ := json.Marshal(v.Query)
		defined[v.Name] = string(q)
	}
	for _, v := range []string{"datasource", "group", "node"} {
		if _, ok := defined[v]; !ok {
			t.Errorf("variable %s missing", v)
		}
	}
	for _, v := range []string{"group", "node"} {
		if !strings.Contains(defined[v], "lbhc_group_info") {
			t.Errorf("variable %s does not come from lbhc_group_info: %s", v, defined[v])
		}
	}
	for _, m := range regexp.MustCompile(`\$\{?([a-zA-Z_][a-zA-Z0-9_]*)`).FindAllStringSubmatch(string(raw), -1) {
		if name := m[1]; !strings.HasPrefix(name, "__") && defined[name] == "" {
			t.Errorf("variable $%s used but not defined", name)
		}
	}
	ids := map[int]bool{}
	var placed []dashPanel
	graphs := 0
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: grid %+v outside 24 columns", p.Title, g)
		}
		for _, q := range placed {
			o := q.GridPos
			if g.X < o.X+o.W && o.X < g.X+g.W && g.Y < o.Y+o.H && o.Y < g.Y+g.H {
				t.Errorf("panels %q and %q overlap", p.Title, q.Title)
			}
		}
		placed = append(placed, p)
		if p.Type == "row" {
			continue
		}
		graphs++
		if p.Datasource["uid"] != "${datasource}" {
			t.Errorf("panel %q: datasource %v, want the ${datasource} variable", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if !strings.Contains(tg.Expr, `group=~"$group"`) {
				t.Errorf("panel %q %s ignores the group variable: %s", p.Title, tg.RefID, tg.Expr)
			}
		}
	}
	if graphs < 10 {
		t.Errorf("%d panels", graphs)
	}
}
