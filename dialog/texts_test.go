package dialog

import (
	"flag"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"orderbot/orders"
)

var verbRE = regexp.MustCompile(`%(\[\d+\])?[-+# 0]*\d*(\.\d+)?[a-zA-Z%]`)

// verbs returns a text's formatting verbs, by argument position.
func verbs(s string) []string {
	var out []string
	pos := 0
	for _, v := range verbRE.FindAllStringSubmatch(s, -1) {
		if v[0] == "%%" {
			continue
		}
		verb := v[0][len(v[0])-1:]
		if v[1] != "" {
			pos = int(v[1][1]-'0') - 1
		}
		for len(out) <= pos {
			out = append(out, "")
		}
		out[pos] = verb
		pos++
	}
	return out
}

func TestTextsComplete(t *testing.T) {
	for key, m := range texts {
		if strings.TrimSpace(m.en) == "" || strings.TrimSpace(m.zh) == "" {
			t.Errorf("%s: missing a language", key)
		}
		if en, zh := verbs(m.en), verbs(m.zh); strings.Join(en, ",") != strings.Join(zh, ",") {
			t.Errorf("%s: English takes %v, Chinese %v", key, en, zh)
		}
	}
}

// TestTextKeysUsed finds every text key the code asks for and checks that it
// exists, including the keys built from statuses and payment methods.
func TestTextKeysUsed(t *testing.T) {
	files, _ := os.ReadDir(".")
	callRE := regexp.MustCompile(`(?:\bt|notice|fail|T\(lang,|T\(st\.s\.Lang,)\(?"([a-z_]+)"`)
	used := map[string]bool{}
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".go") || strings.HasSuffix(f.Name(), "_test.go") {
			continue
		}
		src, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range callRE.FindAllStringSubmatch(string(src), -1) {
			if !strings.HasSuffix(m[1], "_") { // a prefix completed below
				used[m[1]] = true
			}
		}
	}
	for _, s := range orders.Statuses {
		used["status_"+string(s)] = true
		used["notify_"+string(s)] = true
	}
	used["pay_"+string(orders.PayOnDelivery)] = true
	if len(used) < 50 {
		t.Fatalf("found only %d keys; is the pattern still right?", len(used))
	}
	var missing []string
	for k := range used {
		if _, ok := texts[k]; !ok {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("texts missing: %v", missing)
	}
}

var update = flag.Bool("update", false, "rewrite docs/dialog.md")

func TestDiagram(t *testing.T) {
	const path = "../docs/dialog.md"
	want := Diagram()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `make docs`)", err)
	}
	if string(got) != want {
		t.Fatalf("%s is out of date with the state machine: run `make docs`", path)
	}
	for _, s := range States {
		if !strings.Contains(want, string(s)) {
			t.Errorf("state %s missing from the diagram", s)
		}
	}
}

func TestEveryStateReachable(t *testing.T) {
	for _, s := range States {
		if _, ok := eventTo[s]; !ok {
			t.Errorf("no event leads to %s", s)
		}
	}
}
