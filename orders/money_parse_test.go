package orders

import "testing"

func TestParseMoney(t *testing.T) {
	for in, want := range map[string]Money{
		"500.00 CNY": {50000, "CNY"},
		"CNY 500":    {50000, "CNY"},
		" 12.5 USD ": {1250, "USD"},
		"700 XTR":    {700, "XTR"},
		"1000 JPY":   {1000, "JPY"},
	} {
		if got, err := ParseMoney(in); err != nil || got != want {
			t.Errorf("ParseMoney(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "500", "CNY", "-5 CNY", "5.001 CNY", "5.5 JPY", "5 cny", "5 CNY extra", "1e3 CNY", "99999999999999999999 CNY"} {
		if got, err := ParseMoney(bad); ErrorCode(err) != EINVALID {
			t.Errorf("ParseMoney(%q) = %v, %v; want EINVALID", bad, got, err)
		}
	}
}
