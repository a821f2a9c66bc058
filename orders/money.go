package orders

import (
	"fmt"
	"strings"
)

// Money is an amount in minor units (cents, fen) of an ISO 4217 currency.
// Prices are never floats.
type Money struct {
	Amount   int64  `json:"amount" yaml:"amount"`
	Currency string `json:"currency" yaml:"currency"`
}

// minorDigits lists currencies whose minor unit is not 2 digits.
var minorDigits = map[string]int{"JPY": 0, "KRW": 0, "XTR": 0, "VND": 0, "BHD": 3, "KWD": 3}

// MinorDigits returns how many decimal digits the currency's minor unit has.
func MinorDigits(currency string) int {
	if d, ok := minorDigits[currency]; ok {
		return d
	}
	return 2
}

var symbols = map[string]string{"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "JP¥", CurrencyStars: "⭐"}

// String formats the amount with its currency symbol or code, e.g. "¥12.50".
func (m Money) String() string {
	d := MinorDigits(m.Currency)
	neg := m.Amount < 0
	a := m.Amount
	if neg {
		a = -a
	}
	s := fmt.Sprintf("%d", a)
	if d > 0 {
		for len(s) <= d {
			s = "0" + s
		}
		s = s[:len(s)-d] + "." + s[len(s)-d:]
	}
	prefix, ok := symbols[m.Currency]
	if !ok {
		prefix = m.Currency + " "
	}
	if neg {
		prefix = "-" + prefix
	}
	return prefix + s
}

// Mul returns m times n; ok is false on overflow.
func (m Money) Mul(n int) (Money, bool) {
	if n == 0 || m.Amount == 0 {
		return Money{0, m.Currency}, true
	}
	r := m.Amount * int64(n)
	if r/int64(n) != m.Amount {
		return Money{}, false
	}
	return Money{r, m.Currency}, true
}

// Add returns m plus o; they must share a currency (ok false otherwise, or on overflow).
func (m Money) Add(o Money) (Money, bool) {
	if m.Currency == "" {
		m.Currency = o.Currency
	}
	if o.Currency != "" && !strings.EqualFold(m.Currency, o.Currency) {
		return Money{}, false
	}
	r := m.Amount + o.Amount
	if (o.Amount > 0 && r < m.Amount) || (o.Amount < 0 && r > m.Amount) {
		return Money{}, false
	}
	return Money{r, m.Currency}, true
}

// ParseMoney reads an amount written for people, "500.00 CNY" or
// "CNY 500": a non-negative decimal with at most the currency's decimal
// places, and an ISO 4217 code.
func ParseMoney(s string) (Money, error) {
	fields := strings.Fields(s)
	if len(fields) != 2 {
		return Money{}, Errorf(EINVALID, "amount %q: write it as 500.00 CNY", s)
	}
	amount, currency := fields[0], fields[1]
	if isCurrencyCode(amount) {
		amount, currency = currency, amount
	}
	if !isCurrencyCode(currency) {
		return Money{}, Errorf(EINVALID, "amount %q: %q is not a 3-letter upper-case currency code", s, currency)
	}
	n, msg := parseDecimal(amount, MinorDigits(currency))
	if msg != "" {
		return Money{}, Errorf(EINVALID, "amount %q %s", s, msg)
	}
	return Money{Amount: n, Currency: currency}, nil
}
