package dialog

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/unicode/norm"
)

// QuantityCap bounds what ParseQuantity returns: larger numbers come back as
// QuantityCap (and smaller negative ones as -QuantityCap), so that the caller
// can still answer "between 1 and N" and nothing overflows.
const QuantityCap = 1_000_000

// maxQuantityInput is the longest text ParseQuantity looks at, in bytes.
const maxQuantityInput = 64

// Words around a quantity that carry no meaning of their own. Longer entries
// come first where one is a prefix of another. Words that change the meaning
// ("2 more", "再来两个") are deliberately absent: such texts are not plain
// quantities.
var (
	quantityPrefixes = []string{
		"i would like", "i'd like", "i'll take", "i will take", "i want", "i need",
		"give me", "make it", "make that", "change it to", "change to", "set to",
		"quantity", "qty", "just", "only", "x", "×", "*",
		"请给我来", "给我来", "请给我", "给我", "我想要", "我要", "那就", "就要", "改成", "改为", "换成",
		"数量", "要", "来", "买", "就",
	}
	quantitySuffixes = []string{
		"pieces", "piece", "pcs", "pc", "units", "unit", "items", "item", "packs", "pack",
		"boxes", "box", "bags", "bag", "of them", "please", "pls", "plz", "thank you", "thanks",
		"x", "×",
		"就好", "就行", "即可", "好了", "谢谢", "吧", "啊", "呢",
		"个", "件", "份", "只", "支", "本", "包", "盒", "瓶", "杯", "张", "台", "把", "条", "罐",
		"袋", "套", "双", "箱", "块", "片", "枚", "提",
	}
)

// quantityTrim is punctuation and space that may surround a quantity. '-' is
// not in it: "-1" is a (negative) number.
const quantityTrim = " \t\r\n:;,.!?~=。，；：！？～、"

// ParseQuantity reads a quantity typed in English or Chinese: "3", " 3 ", "x3",
// "X 3", "3x", "3 pcs", "qty: 3", "make it 3", "three", "twenty-one",
// "a dozen", full-width "３", "三", "两", "十二", "二十五", "一百", "3个", "三件",
// "要两个", "来三份".
//
// ok is false when s is not a quantity at all. Any number is returned with ok
// true, including 0 and negative ones ("-1"), so that the caller can say which
// range is allowed; numbers beyond ±QuantityCap are returned as ±QuantityCap.
func ParseQuantity(s string) (n int, ok bool) {
	if len(s) > maxQuantityInput || !utf8.ValidString(s) {
		return 0, false
	}
	// NFKC turns full-width digits, letters and punctuation into ASCII.
	s = strings.ToLower(norm.NFKC.String(s))
	s = strings.Trim(s, quantityTrim)
	for range 6 { // each round removes one word around the number
		if n, ok := quantityNumber(s); ok {
			return n, true
		}
		rest, stripped := stripAffix(s)
		if !stripped {
			return 0, false
		}
		s = rest
	}
	return 0, false
}

// stripAffix removes one known word from the start or end of s.
func stripAffix(s string) (string, bool) {
	for _, p := range quantityPrefixes {
		if rest, ok := strings.CutPrefix(s, p); ok && rest != "" {
			return strings.Trim(rest, quantityTrim), true
		}
	}
	for _, p := range quantitySuffixes {
		if rest, ok := strings.CutSuffix(s, p); ok && rest != "" {
			return strings.Trim(rest, quantityTrim), true
		}
	}
	return s, false
}

// quantityNumber reads s as a whole number in digits, English words or
// Chinese numerals.
func quantityNumber(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	if n, ok := digitNumber(s); ok {
		return n, true
	}
	if n, ok := englishNumber(s); ok {
		return n, true
	}
	return chineseNumber(s)
}

// digitNumber reads an optionally signed run of ASCII digits, capped.
func digitNumber(s string) (int, bool) {
	neg := false
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = min(n*10+int(s[i]-'0'), QuantityCap)
	}
	if neg {
		n = -n
	}
	return n, true
}

var (
	englishSmall = map[string]int{
		"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
		"eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
		"fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
		"nineteen": 19,
	}
	englishTens = map[string]int{
		"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
		"eighty": 80, "ninety": 90,
	}
)

// englishNumber reads "three", "twenty one", "twenty-one", "a hundred and
// five", "two thousand", "a dozen", "two dozen", "a couple", "a pair". It
// refuses word salad such as "one two" or "hundred thousand hundred".
func englishNumber(s string) (int, bool) {
	words := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '-' || r == '\t' })
	if len(words) == 0 || len(words) > 8 {
		return 0, false
	}
	switch strings.Join(words, " ") {
	case "a couple", "a couple of", "couple", "a pair", "a pair of", "pair":
		return 2, true
	case "a dozen", "dozen":
		return 12, true
	case "half a dozen":
		return 6, true
	}
	// last is what the previous word was, which decides what may follow.
	const (
		start = iota
		article
		unit // 1..9
		teen // 0, 10..19, or "twenty one" complete
		tens // 20..90
		hundred
		thousand
		dozen
	)
	total, cur, last := 0, 0, start
	for i, w := range words {
		if v, ok := englishSmall[w]; ok {
			switch {
			case v >= 1 && v <= 9 && (last == start || last == tens || last == hundred || last == thousand):
				cur += v
				if last == tens {
					last = teen
				} else {
					last = unit
				}
			case (v == 0 || v >= 10) && (last == start || last == hundred || last == thousand):
				if v == 0 && len(words) > 1 {
					return 0, false
				}
				cur += v
				last = teen
			default:
				return 0, false
			}
			continue
		}
		if v, ok := englishTens[w]; ok {
			if last != start && last != hundred && last != thousand {
				return 0, false
			}
			cur += v
			last = tens
			continue
		}
		switch w {
		case "a", "an":
			if i != 0 {
				return 0, false
			}
			last = article
		case "and":
			if last != hundred && last != thousand {
				return 0, false
			}
		case "hundred":
			switch {
			case last == article:
				cur = 100
			case (last == unit || last == teen) && cur > 0 && cur < 20:
				cur *= 100
			default:
				return 0, false
			}
			last = hundred
		case "thousand":
			switch {
			case last == article:
				cur = 1
			case last == unit || last == teen || last == tens || last == hundred:
			default:
				return 0, false
			}
			if total > 0 {
				return 0, false
			}
			total, cur, last = cur*1000, 0, thousand
		case "dozen":
			switch last {
			case article:
				cur = 12
			case unit:
				cur *= 12
			default:
				return 0, false
			}
			last = dozen
		default:
			return 0, false
		}
	}
	if last == article || last == start {
		return 0, false
	}
	return min(total+cur, QuantityCap), true
}

var chineseDigits = map[rune]int{
	'零': 0, '〇': 0, '一': 1, '二': 2, '两': 2, '俩': 2, '三': 3, '四': 4, '五': 5,
	'六': 6, '七': 7, '八': 8, '九': 9,
}

var chineseUnits = map[rune]int{'十': 10, '百': 100, '千': 1000}

// chineseNumber reads Chinese numerals up to 九千九百九十九万九千九百九十九:
// "三", "两", "十", "十二", "二十", "二十五", "一百", "一百零五", "一百二" (120,
// as spoken), "两千五" (2500), "一万", and "一打"/"两打" (dozens).
func chineseNumber(s string) (int, bool) {
	dozens := false
	if rest, ok := strings.CutSuffix(s, "打"); ok {
		s, dozens = rest, true
	}
	if s == "" {
		return 0, false
	}
	total, section := 0, 0
	digit := -1   // a digit waiting for its unit
	lastUnit := 0 // the unit just applied in this section; 0 at its start
	zero := false // a 零 since the last unit: "一百零五" is 105, not 150
	wan := false  // 万 seen
	anything := false
	for _, r := range s {
		if d, ok := chineseDigits[r]; ok {
			if d == 0 {
				if digit != -1 || lastUnit == 0 && section == 0 && anything {
					return 0, false
				}
				if len(s) == len("零") {
					return 0, true
				}
				zero = true
				anything = true
				continue
			}
			if digit != -1 {
				return 0, false // "一二": a digit string, not a number
			}
			digit = d
			anything = true
			continue
		}
		if u, ok := chineseUnits[r]; ok {
			if lastUnit != 0 && u >= lastUnit {
				return 0, false
			}
			if digit == -1 {
				if u != 10 || section != 0 || zero && lastUnit == 0 {
					return 0, false // only 十 may stand alone, as in "十二"
				}
				digit = 1
			}
			section += digit * u
			digit, lastUnit, zero, anything = -1, u, false, true
			continue
		}
		if r == '万' {
			if wan || (!anything) {
				return 0, false
			}
			if digit != -1 {
				section += digit
			}
			total = section * 10000
			section, digit, lastUnit, zero, wan = 0, -1, 0, false, true
			continue
		}
		return 0, false
	}
	if !anything {
		return 0, false
	}
	if digit != -1 {
		switch {
		case lastUnit >= 100 && !zero:
			section += digit * lastUnit / 10 // "一百二" is 120
		case wan && lastUnit == 0 && section == 0 && !zero:
			section += digit * 1000 // "一万五" is 15000
		default:
			section += digit
		}
	}
	n := total + section
	if dozens {
		if n == 0 {
			return 0, false
		}
		n *= 12
	}
	return min(n, QuantityCap), true
}

// maxPhoneInput is the longest text NormalizePhone accepts, in characters.
const maxPhoneInput = 40

// NormalizePhone parses a phone number as typed or shared and returns it in
// E.164 form ("+8613800138000"). Numbers without a country code are read in
// defaultRegion (an ISO 3166 code such as "CN" or "US"; "" requires the
// country code). Letters, inputs over 40 characters and numbers that are not
// valid for their country are refused. Errors are plain; the caller words
// what the user sees.
func NormalizePhone(s, defaultRegion string) (e164 string, err error) {
	if !utf8.ValidString(s) {
		return "", errors.New("phone number is not valid text")
	}
	if utf8.RuneCountInString(s) > maxPhoneInput {
		return "", fmt.Errorf("phone number is longer than %d characters", maxPhoneInput)
	}
	s = strings.TrimSpace(norm.NFKC.String(s)) // full-width digits and ＋ become ASCII
	if s == "" {
		return "", errors.New("phone number is empty")
	}
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '/' || r == '\u00a0':
		case r == '+':
		default:
			return "", fmt.Errorf("phone number contains %q", r)
		}
	}
	if strings.LastIndex(s, "+") > 0 {
		return "", errors.New("phone number has a '+' in the middle")
	}
	if digits < 5 {
		return "", errors.New("phone number is too short")
	}
	region := strings.ToUpper(strings.TrimSpace(defaultRegion))
	if region == "" {
		region = "ZZ" // unknown: the number must carry its country code
	} else if phonenumbers.GetCountryCodeForRegion(region) == 0 {
		return "", fmt.Errorf("unknown phone region %q", defaultRegion)
	}
	num, err := phonenumbers.Parse(s, region)
	if err != nil {
		return "", fmt.Errorf("parsing phone number: %w", err)
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", errors.New("not a valid phone number")
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// CleanText tidies free text such as an address or a name: it drops invalid
// UTF-8, control characters and invisible formatting characters (zero-width
// spaces, bidirectional overrides), turns every run of white space, newlines
// included, into one space, trims, and puts the text in Unicode NFC form. ok
// is false, and the text "", when nothing is left or more than max characters
// (runes) are; max <= 0 means no limit.
func CleanText(s string, max int) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range strings.ToValidUTF8(s, "") {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r), invisible(r):
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	out := norm.NFC.String(b.String())
	if out == "" || (max > 0 && utf8.RuneCountInString(out) > max) {
		return "", false
	}
	return out, true
}

// invisible reports format characters that only serve to hide or reorder
// text. The zero-width joiner and non-joiner stay: emoji and some scripts
// need them.
func invisible(r rune) bool {
	if r == '\u200c' || r == '\u200d' {
		return false
	}
	return unicode.Is(unicode.Cf, r)
}
