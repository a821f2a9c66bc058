package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"orderbot/orders"
)

// The approvals section becomes the order core's rules; mistakes in it stop
// the program with a message naming the rule.
func TestApprovalsConfig(t *testing.T) {
	load := func(yaml string) (*Config, error) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "orderbot.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return loadConfig(path, func(string) string { return "" })
	}
	cfg, err := load(`
approvals:
  managers: {U1: U9}
  groups: {it: [U7, U8]}
  rules:
    - name: Over 500 CNY
      total_over: "500.00 CNY"
      approvers: [manager]
    - name: IT equipment
      categories: [it]
      approvers: ["group:it"]
`)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := cfg.Approvals.rules()
	if err != nil || rules == nil || len(rules.Rules) != 2 || *rules.Rules[0].TotalOver != (orders.Money{Amount: 50000, Currency: "CNY"}) {
		t.Fatalf("rules = %+v, %v", rules, err)
	}
	if none, err := (approvalsConfig{}).rules(); none != nil || err != nil {
		t.Fatalf("no rules = %+v, %v", none, err)
	}
	for name, bad := range map[string]string{
		"bad amount":    "approvals:\n  rules:\n    - {name: x, total_over: \"lots\", approvers: [U1]}\n",
		"unknown group": "approvals:\n  rules:\n    - {name: x, approvers: [\"group:nope\"]}\n",
		"no approvers":  "approvals:\n  rules:\n    - {name: x, total_over: \"1 CNY\"}\n",
		"unknown field": "approvals:\n  rules:\n    - {name: x, approvers: [U1], when: soon}\n",
	} {
		if _, err := load(bad); err == nil || !strings.Contains(err.Error(), "approvals") && !strings.Contains(err.Error(), "when") {
			t.Errorf("%s: loadConfig = %v", name, err)
		}
	}
}
