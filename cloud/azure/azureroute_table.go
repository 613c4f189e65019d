package azure

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// AzureRouteTable identifies one route table.
type AzureRouteTable struct {
	SubscriptionID string
	ResourceGroup  string
	Name           string
}

// ID is the table's full resource ID.
func (t AzureRouteTable) ID() string {
	return "/subscriptions/" + t.SubscriptionID + "/resourceGroups/" + t.ResourceGroup +
		"/providers/Microsoft.Network/routeTables/" + t.Name
}

// ParseAzureRouteTable accepts a full route-table resource ID
// (/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/routeTables/{name})
// or a bare table name, which is looked up in defSub/defRG (this VM's
// subscription and resource group); a bare name with empty defaults is an
// error.
func ParseAzureRouteTable(s, defSub, defRG string) (AzureRouteTable, error) {
	if s == "" {
		return AzureRouteTable{}, errors.New("empty route table")
	}
	if !strings.Contains(s, "/") {
		if defSub == "" || defRG == "" {
			return AzureRouteTable{}, fmt.Errorf("route table %q is a bare name but the subscription and resource group are unknown; give the full resource ID", s)
		}
		if err := azureCheckName(s); err != nil {
			return AzureRouteTable{}, fmt.Errorf("route table %q: %w", s, err)
		}
		return AzureRouteTable{SubscriptionID: defSub, ResourceGroup: defRG, Name: s}, nil
	}
	parts := strings.Split(strings.Trim(s, "/"), "/")
	if !strings.HasPrefix(s, "/") || len(parts) != 8 ||
		!strings.EqualFold(parts[0], "subscriptions") ||
		!strings.EqualFold(parts[2], "resourceGroups") ||
		!strings.EqualFold(parts[4], "providers") {
		return AzureRouteTable{}, fmt.Errorf("route table %q is not a resource ID of the form /subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.Network/routeTables/{name}", s)
	}
	if !strings.EqualFold(parts[5], "Microsoft.Network") || !strings.EqualFold(parts[6], "routeTables") {
		return AzureRouteTable{}, fmt.Errorf("route table %q has resource type %s/%s, want Microsoft.Network/routeTables", s, parts[5], parts[6])
	}
	for _, p := range []string{parts[1], parts[3], parts[7]} {
		if p == "" {
			return AzureRouteTable{}, fmt.Errorf("route table %q has an empty path segment", s)
		}
	}
	if err := azureCheckName(parts[7]); err != nil {
		return AzureRouteTable{}, fmt.Errorf("route table %q: %w", s, err)
	}
	return AzureRouteTable{SubscriptionID: parts[1], ResourceGroup: parts[3], Name: parts[7]}, nil
}

// azureCheckName applies Azure's naming rule for route tables and routes:
// 1–80 characters of letters, digits, '_', '.', '-'; starting with a letter
// or digit; ending with a letter, digit or '_'.
func azureCheckName(n string) error {
	if n == "" || len(n) > 80 {
		return fmt.Errorf("name %q must be 1 to 80 characters long", n)
	}
	for _, r := range n {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-'
		if !ok {
			return fmt.Errorf("name %q contains %q; only letters, digits, '_', '.' and '-' are allowed", n, r)
		}
	}
	first, last := n[0], n[len(n)-1]
	if first == '_' || first == '.' || first == '-' {
		return fmt.Errorf("name %q must start with a letter or digit", n)
	}
	if last == '.' || last == '-' {
		return fmt.Errorf("name %q must end with a letter, digit or '_'", n)
	}
	return nil
}

// azureVIPToken is the placeholder in a route-name template that is replaced
// with the VIP in name form (10-0-0-5-32).
const azureVIPToken = "{vip}"

// AzureRouteName is the route name for vip (a host address): template with
// "{vip}" replaced by the address and prefix length with separators turned
// into '-', e.g. "lbhc-{vip}" and 10.0.0.5 → "lbhc-10-0-0-5-32". An empty
// template means "lbhc-{vip}"; a template without "{vip}" is used verbatim.
func AzureRouteName(template string, vip netip.Addr) (string, error) {
	if template == "" {
		template = "lbhc-" + azureVIPToken
	}
	form := strings.NewReplacer(".", "-", ":", "-").Replace(vip.WithZone("").String()) +
		fmt.Sprintf("-%d", vip.BitLen())
	name := strings.ReplaceAll(template, azureVIPToken, form)
	if err := azureCheckName(name); err != nil {
		return "", err
	}
	return name, nil
}
