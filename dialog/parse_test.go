package dialog

import (
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"orderbot/orders"
)

func TestParseQuantity(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
		ok   bool
	}{
		// English and digits
		{"digit", "3", 3, true},
		{"spaces around", " 3 ", 3, true},
		{"times before", "x3", 3, true},
		{"capital times with space", "X 3", 3, true},
		{"times after", "3x", 3, true},
		{"multiplication sign", "×3", 3, true},
		{"pcs", "3 pcs", 3, true},
		{"pieces", "3 pieces", 3, true},
		{"qty", "qty 3", 3, true},
		{"qty with colon", "Qty: 3", 3, true},
		{"make it", "make it 3", 3, true},
		{"make it, words", "Make it five please", 5, true},
		{"I'd like", "I'd like 2", 2, true},
		{"word", "three", 3, true},
		{"capitalised word", "Three", 3, true},
		{"twelve", "twelve", 12, true},
		{"twenty one", "twenty one", 21, true},
		{"twenty-one", "twenty-one", 21, true},
		{"hundred and five", "one hundred and five", 105, true},
		{"a hundred", "a hundred", 100, true},
		{"two thousand five hundred", "two thousand five hundred", 2500, true},
		{"a dozen", "a dozen", 12, true},
		{"two dozen", "two dozen", 24, true},
		{"half a dozen", "half a dozen", 6, true},
		{"a couple", "a couple", 2, true},
		{"trailing full stop", "3.", 3, true},
		{"exclamation", "4!", 4, true},
		{"leading zero", "007", 7, true},
		{"plus sign", "+3", 3, true},
		{"zero is a number", "0", 0, true},
		{"zero word", "zero", 0, true},
		{"large", "99999", 99999, true},
		{"capped", "12345678901234567890", QuantityCap, true},
		{"negative", "-1", -1, true},
		{"negative capped", "-99999999999", -QuantityCap, true},
		{"three pcs in words", "three pcs", 3, true},

		// Chinese and full-width
		{"full-width digit", "３", 3, true},
		{"full-width with x", "ｘ３", 3, true},
		{"三", "三", 3, true},
		{"两", "两", 2, true},
		{"十", "十", 10, true},
		{"十二", "十二", 12, true},
		{"二十", "二十", 20, true},
		{"二十五", "二十五", 25, true},
		{"一百", "一百", 100, true},
		{"一百零五", "一百零五", 105, true},
		{"一百二 is 120", "一百二", 120, true},
		{"一百一十", "一百一十", 110, true},
		{"两千五", "两千五", 2500, true},
		{"一千零二十", "一千零二十", 1020, true},
		{"一万", "一万", 10000, true},
		{"一万五", "一万五", 15000, true},
		{"十万", "十万", 100000, true},
		{"零", "零", 0, true},
		{"一打", "一打", 12, true},
		{"3个", "3个", 3, true},
		{"3 个", "3 个", 3, true},
		{"三件", "三件", 3, true},
		{"要两个", "要两个", 2, true},
		{"来三份", "来三份", 3, true},
		{"我要五个", "我要五个", 5, true},
		{"改成4个吧", "改成4个吧", 4, true},
		{"full-width punctuation", "３个！", 3, true},
		{"十二件。", "十二件。", 12, true},
		{"俩", "来俩", 2, true},

		// Not quantities
		{"empty", "", 0, false},
		{"space", "   ", 0, false},
		{"letters", "abc", 0, false},
		{"product name", "pen", 0, false},
		{"box alone", "box", 0, false},
		{"x alone", "x", 0, false},
		{"minus alone", "-", 0, false},
		{"double minus", "--1", 0, false},
		{"decimal", "2.5", 0, false},
		{"thousands separator", "1,000", 0, false},
		{"two numbers", "3 4", 0, false},
		{"word salad", "one two", 0, false},
		{"hundred alone", "hundred", 0, false},
		{"article alone", "a", 0, false},
		{"more is not a quantity", "2 more", 0, false},
		{"digit string in Chinese", "一二三", 0, false},
		{"十十", "十十", 0, false},
		{"几个", "几个", 0, false},
		{"再来两个 adds, it does not set", "再来两个", 0, false},
		{"search text with a number", "coffee 250g", 0, false},
		{"too long", strings.Repeat("1", 65), 0, false},
		{"invalid UTF-8", "3\xff", 0, false},
		{"only affixes", "qty pcs", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, ok := ParseQuantity(tt.in)
			if n != tt.want || ok != tt.ok {
				t.Errorf("ParseQuantity(%q) = %d, %v; want %d, %v", tt.in, n, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		region string
		want   string // "" for an error
	}{
		{"international CN mobile", "+86 138 0013 8000", "CN", "+8613800138000"},
		{"international in another region", "+86 138 0013 8000", "US", "+8613800138000"},
		{"national CN mobile", "13800138000", "CN", "+8613800138000"},
		{"dashes", "138-0013-8000", "CN", "+8613800138000"},
		{"IDD prefix", "0086 138 0013 8000", "CN", "+8613800138000"},
		{"full-width", "＋８６ １３８００１３８０００", "CN", "+8613800138000"},
		{"lower-case region", "13800138000", "cn", "+8613800138000"},
		{"US national", "(415) 555-2671", "US", "+14155552671"},
		{"US with dots", "415.555.2671", "US", "+14155552671"},
		{"Beijing landline", "010 6552 9988", "CN", "+861065529988"},
		{"no region with plus", "+44 20 7946 0958", "", "+442079460958"},
		{"spaces around", "  +8613800138000  ", "CN", "+8613800138000"},

		{"empty", "", "CN", ""},
		{"too short", "12345", "CN", ""},
		{"four digits", "1234", "CN", ""},
		{"letters", "1380013800a", "CN", ""},
		{"vanity letters", "1-800-FLOWERS", "US", ""},
		{"extension", "+1 415 555 2671 ext 12", "US", ""},
		{"invalid number", "+86 123 4567 8901", "CN", ""},
		{"invalid US number", "(415) 055-2671", "US", ""},
		{"national without region", "13800138000", "", ""},
		{"unknown region", "13800138000", "XX", ""},
		{"plus in the middle", "138+00138000", "CN", ""},
		{"two pluses", "++8613800138000", "CN", ""},
		{"too long", "+86 138 0013 8000                          ", "CN", ""},
		{"emoji", "📞13800138000", "CN", ""},
		{"invalid UTF-8", "1380013800\xff", "CN", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizePhone(tt.in, tt.region)
			if tt.want == "" {
				if err == nil {
					t.Errorf("NormalizePhone(%q, %q) = %q, want an error", tt.in, tt.region, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("NormalizePhone(%q, %q) = %q, %v; want %q", tt.in, tt.region, got, err, tt.want)
			}
		})
	}
}

func TestCleanText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
		ok   bool
	}{
		{"plain", "Li Lei", 100, "Li Lei", true},
		{"trimmed", "  Li Lei \n", 100, "Li Lei", true},
		{"runs of spaces", "Li    Lei", 100, "Li Lei", true},
		{"newlines and tabs", "Room 5\n\nBuilding 3\t\tNorth St", 100, "Room 5 Building 3 North St", true},
		{"CRLF", "line one\r\nline two", 100, "line one line two", true},
		{"ideographic space", "北京市\u3000朝阳区", 100, "北京市 朝阳区", true},
		{"no-break space", "5\u00a0Main St", 100, "5 Main St", true},
		{"Chinese address", "上海市浦东新区世纪大道100号", 100, "上海市浦东新区世纪大道100号", true},
		{"control characters", "Li\x00 Lei\x07\x1b[31m", 100, "Li Lei[31m", true},
		{"invalid UTF-8", "Li\xff Lei", 100, "Li Lei", true},
		{"zero-width space", "Li\u200bLei", 100, "LiLei", true},
		{"bidi override", "abc\u202edef", 100, "abcdef", true},
		{"byte order mark", "\ufeffLi Lei", 100, "Li Lei", true},
		{"emoji with joiner kept", "👩\u200d💻 Dev", 100, "👩\u200d💻 Dev", true},
		{"NFC", "Jose\u0301", 100, "José", true},
		{"exactly max runes", "一二三四五", 5, "一二三四五", true},
		{"no limit", strings.Repeat("a", 10000), 0, strings.Repeat("a", 10000), true},

		{"empty", "", 100, "", false},
		{"only spaces", " \n\t\u3000 ", 100, "", false},
		{"only control characters", "\x00\x01\u200b", 100, "", false},
		{"too long", "一二三四五六", 5, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := CleanText(tt.in, tt.max)
			if got != tt.want || ok != tt.ok {
				t.Errorf("CleanText(%q, %d) = %q, %v; want %q, %v", tt.in, tt.max, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func FuzzParseQuantity(f *testing.F) {
	for _, s := range []string{"3", " x3 ", "3 pcs", "make it 3", "twenty one", "a dozen", "３", "二十五",
		"一百零五", "要两个", "来三份", "-1", "99999999999999999999", "one hundred and five", "两千五", "一万五", "一打"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := ParseQuantity(s)
		if !ok {
			if n != 0 {
				t.Fatalf("ParseQuantity(%q) = %d, false; want 0 when not ok", s, n)
			}
			return
		}
		if n < -QuantityCap || n > QuantityCap {
			t.Fatalf("ParseQuantity(%q) = %d, outside ±%d", s, n, QuantityCap)
		}
	})
}

func FuzzNormalizePhone(f *testing.F) {
	f.Add("+86 138 0013 8000", "CN")
	f.Add("13800138000", "CN")
	f.Add("(415) 555-2671", "US")
	f.Add("0086 10 6552 9988", "CN")
	f.Add("+44 20 7946 0958", "")
	f.Add("＋８６１３８００１３８０００", "cn")
	f.Fuzz(func(t *testing.T, s, region string) {
		got, err := NormalizePhone(s, region)
		if err != nil {
			return
		}
		if !strings.HasPrefix(got, "+") || len(got) > 16 {
			t.Fatalf("NormalizePhone(%q, %q) = %q, not E.164", s, region, got)
		}
		for _, r := range got[1:] {
			if r < '0' || r > '9' {
				t.Fatalf("NormalizePhone(%q, %q) = %q, not E.164", s, region, got)
			}
		}
		again, err := NormalizePhone(got, region)
		if err != nil || again != got {
			t.Fatalf("NormalizePhone(%q) = %q, %v; want it unchanged", got, again, err)
		}
	})
}

func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"Li Lei", "  a \n b  ", "北京市\u3000朝阳区", "a\x00b", "\xff\xfe", "abc\u202edef", "Jose\u0301"} {
		f.Add(s, 100)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		max %= 1000
		got, ok := CleanText(s, max)
		if !ok {
			if got != "" {
				t.Fatalf("CleanText(%q) = %q, false; want \"\" when not ok", s, got)
			}
			return
		}
		if got == "" || !utf8.ValidString(got) {
			t.Fatalf("CleanText(%q) = %q: empty or invalid UTF-8", s, got)
		}
		if max > 0 && utf8.RuneCountInString(got) > max {
			t.Fatalf("CleanText(%q, %d) = %q: too long", s, max, got)
		}
		if got != strings.TrimSpace(got) || strings.Contains(got, "  ") {
			t.Fatalf("CleanText(%q) = %q: untrimmed or double spaces", s, got)
		}
		for _, r := range got {
			if r != ' ' && unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) && r != '\u200c' && r != '\u200d' {
				t.Fatalf("CleanText(%q) = %q: contains %U", s, got, r)
			}
		}
		if again, ok := CleanText(got, max); !ok || again != got {
			t.Fatalf("CleanText is not idempotent: %q → %q → %q", s, got, again)
		}
	})
}

func TestSingular(t *testing.T) {
	for in, want := range map[string]string{
		"pens": "pen", "boxes": "box", "batteries": "battery", "glasses": "glass", "notes": "note",
		"brushes": "brush", "pen": "pen", "bus": "bus", "chess": "chess", "笔": "笔", "": "",
	} {
		if got := singular(in); got != want {
			t.Errorf("singular(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every word of a search must match, in any order, plural or not.
func TestSearchProductsByWords(t *testing.T) {
	cat := &orders.Catalog{Products: []orders.Product{
		{SKU: "pen", Active: true, Name: orders.Text{"en": "Gel pen", "zh": "中性笔"}},
		{SKU: "pad", Active: true, Name: orders.Text{"en": "Sticky notes"}},
		{SKU: "old", Active: false, Name: orders.Text{"en": "Gel pen, old"}},
	}}
	for q, want := range map[string][]string{
		"gel pens": {"pen"}, "PENS GEL": {"pen"}, "sticky note": {"pad"}, "中性": {"pen"}, "gel notes": nil, "  ": nil,
	} {
		var got []string
		for _, p := range searchProducts(cat, q) {
			got = append(got, p.SKU)
		}
		if !slices.Equal(got, want) {
			t.Errorf("search %q = %v, want %v", q, got, want)
		}
	}
}
