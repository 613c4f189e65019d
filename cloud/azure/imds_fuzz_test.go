package azure

import "testing"

// FuzzParseAzureInstance: any IMDS body either fails with an error or
// yields an instance with the fields the Azure actions rely on.
func FuzzParseAzureInstance(f *testing.F) {
	f.Add([]byte(`{"compute":{"name":"vm1","location":"westeurope","subscriptionId":"s","resourceGroupName":"rg"},` +
		`"network":{"interface":[{"ipv4":{"ipAddress":[{"privateIpAddress":"10.0.0.4"}]}}]}}`))
	f.Add([]byte(`{"compute":{"subscriptionId":"s","resourceGroupName":"rg"},"network":{"interface":[]}}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"network":{"interface":[{"ipv4":{"ipAddress":[{"privateIpAddress":"::1"}]}}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		inst, err := ParseAzureInstance(body)
		if err != nil {
			if inst != (AzureInstance{}) {
				t.Fatalf("error %v with a non-zero instance %+v", err, inst)
			}
			return
		}
		if inst.SubscriptionID == "" || inst.ResourceGroup == "" || !inst.PrivateIP.Is4() {
			t.Fatalf("accepted an incomplete instance %+v", inst)
		}
		if s := azureSnippet(body); len(s) > 200+len("…") {
			t.Fatalf("snippet of %d bytes", len(s))
		}
	})
}
