package dialog

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"orderbot/orders"
)

func TestShippedFAQ(t *testing.T) {
	f, err := os.Open("../configs/faq.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	faq, err := ParseFAQ(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(faq) < 6 || len(faq) > 8 {
		t.Errorf("the FAQ has %d entries, want 6 to 8", len(faq))
	}
	want := []string{"delivery", "area", "payment", "cancel", "returns", "status"}
	var ids []string
	for _, e := range faq {
		ids = append(ids, e.ID)
		for _, txt := range []orders.Text{e.Question, e.Answer} {
			if len(txt) != 2 || txt["en"] == "" || txt["zh"] == "" {
				t.Errorf("%s: %v, want en and zh", e.ID, txt)
			}
		}
		// A help button carries "faq" and the id within Telegram's 64 bytes.
		if len(e.ID) > maxFAQIDLen {
			t.Errorf("id %q is too long", e.ID)
		}
	}
	if strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("ids = %v, want %v", ids, want)
	}
}

const goodFAQ = `- id: delivery
  question: {en: "How long?", zh: "多久？"}
  answer: {en: "A day.", zh: "一天。"}
- id: pay
  question:
    en: "How to pay?"
    zh: "怎么付款？"
  answer: {en: "On delivery.", zh: "货到付款。"}
`

func TestParseFAQ(t *testing.T) {
	faq, err := ParseFAQ(strings.NewReader(goodFAQ))
	if err != nil {
		t.Fatal(err)
	}
	if len(faq) != 2 || faq[1].ID != "pay" || faq[1].Question.In("zh") != "怎么付款？" || faq[0].Answer.In("en") != "A day." {
		t.Errorf("ParseFAQ = %+v", faq)
	}
}

func TestParseFAQErrors(t *testing.T) {
	replace := func(old, new string) string {
		if !strings.Contains(goodFAQ, old) {
			panic("goodFAQ has no " + old)
		}
		return strings.Replace(goodFAQ, old, new, 1)
	}
	tests := []struct {
		name string
		src  string
		line int // 0: no line
		want string
	}{
		{"empty", "", 0, "faq is empty"},
		{"empty list", "[]\n", 1, "has no entries"},
		{"not a list", "id: x\n", 1, "must be a list"},
		{"entry not a mapping", "- delivery\n", 1, "an entry must be a mapping"},
		{"malformed", replace(`{en: "A day.", zh: "一天。"}`, `{en: "A day.", zh: "一天。"`), 3, "did not find expected ',' or '}'"},
		{"unknown field", replace("  answer: {en: \"On", "  answr: {en: \"On"), 8, `unknown field "answr"`},
		{"duplicate field", replace("  answer: {en: \"A day.\"", "  id: again\n  answer: {en: \"A day.\""), 3, `"id" appears twice`},
		{"missing id", replace("- id: delivery\n  question", "- question"), 1, `an entry has no "id"`},
		{"bad id", replace("id: delivery", "id: Delivery Time"), 1, `id "Delivery Time" must be`},
		{"id twice", replace("id: pay", "id: delivery"), 4, `id "delivery" is used twice (first on line 1)`},
		{"missing answer", replace("  answer: {en: \"On delivery.\", zh: \"货到付款。\"}\n", ""), 4, `entry "pay" has no "answer"`},
		{"question not texts", replace(`question: {en: "How long?", zh: "多久？"}`, `question: How long?`), 2, `question of "delivery" must be texts by language`},
		{"no Chinese", replace(`{en: "A day.", zh: "一天。"}`, `{en: "A day."}`), 3, `answer of "delivery" has no zh text`},
		{"empty English", replace(`    en: "How to pay?"`, `    en: ""`), 6, `question of "pay" has an empty en text`},
		{"question too long", replace(`How long?`, strings.Repeat("x", 76)), 2, "(en) is longer than 75 characters"},
		{"anchor", replace(`question: {en: "How long?"`, `question: &q {en: "How long?"`), 2, "anchors and aliases are not supported"},
		{"alias", replace(`answer: {en: "On delivery.", zh: "货到付款。"}`, `answer: *a`), 0, "unknown anchor"},
		{"two documents", goodFAQ + "---\n- id: x\n", 9, "only one YAML document"},
	}
	lineRE := regexp.MustCompile(`line (\d+): `)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			faq, err := ParseFAQ(strings.NewReader(tt.src))
			if err == nil {
				t.Fatalf("ParseFAQ = %+v, want an error", faq)
			}
			if orders.ErrorCode(err) != orders.EINVALID {
				t.Errorf("ErrorCode(%v) = %q, want %q", err, orders.ErrorCode(err), orders.EINVALID)
			}
			msg := orders.ErrorMessage(err)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not contain %q", msg, tt.want)
			}
			line := 0
			if m := lineRE.FindStringSubmatch(msg); m != nil {
				line, _ = strconv.Atoi(m[1])
			}
			if line != tt.line {
				t.Errorf("message %q names line %d, want %d", msg, line, tt.line)
			}
		})
	}
}

func FuzzParseFAQ(f *testing.F) {
	shipped, err := os.ReadFile("../configs/faq.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(shipped))
	f.Add(goodFAQ)
	f.Fuzz(func(t *testing.T, src string) {
		faq, err := ParseFAQ(strings.NewReader(src))
		if err != nil {
			if orders.ErrorCode(err) != orders.EINVALID {
				t.Fatalf("ParseFAQ error %v is not EINVALID", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, e := range faq {
			if !validFAQID(e.ID) || seen[e.ID] || e.Question["en"] == "" || e.Question["zh"] == "" || e.Answer["en"] == "" || e.Answer["zh"] == "" {
				t.Fatalf("ParseFAQ accepted a bad entry %+v", e)
			}
			seen[e.ID] = true
		}
	})
}
