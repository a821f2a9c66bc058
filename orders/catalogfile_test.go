package orders

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// baseCatalog is a small valid catalog; the comments are its line numbers,
// which the error cases below refer to.
const baseCatalog = `currency: CNY
categories:
  - id: office
    name: {en: Office, zh: 办公}
products:
  - sku: pen
    category: office
    name: {en: Pen, zh: 笔}
    rating: 4.5
    specs:
      - name: {en: Tip}
        value: {en: 0.5 mm}
    variants:
      - sku: pen-blk
        name: {en: Black}
        price: "2.50"
        stock: 10
      - sku: pen-blu
        name: {en: Blue}
        price: 3
        stock: 0
`

const secondProduct = `  - sku: cup
    category: office
    kind: digital
    name: {en: Cup}
    variants:
      - sku: cup-1
        name: {en: One}
        price: "1.00"
        stock: 1
`

// starsProduct is secondProduct, a digital product, sold for 50 Telegram
// Stars as well; after baseCatalog its stars are on line 30.
const starsProduct = `  - sku: cup
    category: office
    kind: digital
    name: {en: Cup}
    variants:
      - sku: cup-1
        name: {en: One}
        price: "1.00"
        stars: 50
        stock: 1
`

func mustParse(t *testing.T, src string) *Catalog {
	t.Helper()
	c, err := ParseCatalog(strings.NewReader(src))
	if err != nil {
		t.Fatalf("ParseCatalog: %v", err)
	}
	return c
}

func TestParseCatalogBase(t *testing.T) {
	c := mustParse(t, baseCatalog+secondProduct)
	want := &Catalog{
		Categories: []Category{{ID: "office", Name: Text{"en": "Office", "zh": "办公"}, Position: 1}},
		Products: []Product{
			{
				SKU: "pen", CategoryID: "office", Kind: KindGoods,
				Name:     Text{"en": "Pen", "zh": "笔"},
				Specs:    []Spec{{Name: Text{"en": "Tip"}, Value: Text{"en": "0.5 mm"}}},
				Rating:   45,
				Position: 1,
				Active:   true,
				Variants: []Variant{
					{SKU: "pen-blk", ProductSKU: "pen", Name: Text{"en": "Black"}, Price: Money{250, "CNY"}, Stock: 10, Position: 1},
					{SKU: "pen-blu", ProductSKU: "pen", Name: Text{"en": "Blue"}, Price: Money{300, "CNY"}, Stock: 0, Position: 2},
				},
			},
			{
				SKU: "cup", CategoryID: "office", Kind: KindDigital,
				Name:     Text{"en": "Cup"},
				Position: 2,
				Active:   true,
				Variants: []Variant{
					{SKU: "cup-1", ProductSKU: "cup", Name: Text{"en": "One"}, Price: Money{100, "CNY"}, Stock: 1, Position: 1},
				},
			},
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("ParseCatalog:\n got %+v\nwant %+v", c, want)
	}
}

func TestParseCatalogStars(t *testing.T) {
	c := mustParse(t, baseCatalog+starsProduct)
	v, _, ok := c.Variant("cup-1")
	if !ok || v.Stars != 50 {
		t.Fatalf("cup-1 = %+v, %v; want 50 stars", v, ok)
	}
	if m, ok := v.StarsPrice(); !ok || m != (Money{50, "XTR"}) {
		t.Errorf("cup-1 StarsPrice = %v, %v; want XTR 50, true", m, ok)
	}
	if v.Price != (Money{100, "CNY"}) {
		t.Errorf("cup-1 price = %v, want ¥1.00 as before", v.Price)
	}
	pen, _, _ := c.Variant("pen-blk")
	if m, ok := pen.StarsPrice(); ok || m.Currency != CurrencyStars {
		t.Errorf("pen-blk StarsPrice = %v, %v; want not sold for Stars", m, ok)
	}
}

var lineRE = regexp.MustCompile(`line (\d+): `)

func TestParseCatalogErrors(t *testing.T) {
	replace := func(old, new string) string {
		if !strings.Contains(baseCatalog, old) {
			panic("baseCatalog has no " + old)
		}
		return strings.Replace(baseCatalog, old, new, 1)
	}
	stars := func(value string) string {
		return baseCatalog + strings.Replace(starsProduct, "stars: 50", "stars: "+value, 1)
	}
	tests := []struct {
		name string
		src  string
		line int // 0: the message names no line
		want string
	}{
		{"empty file", "", 0, "empty"},
		{"only a comment", "# nothing\n", 0, "empty"},
		{"malformed flow mapping", replace("{en: Pen, zh: 笔}", "{en: Pen, zh: 笔"), 8, "the {...} mapping that starts here is not closed or misses a comma"},
		{"tab indentation", replace("    rating: 4.5", "\trating: 4.5"), 9, "found character that cannot start any token"},
		{"two documents", baseCatalog + "---\ncurrency: CNY\n", 22, "only one YAML document"},
		{"root is a list", "- a\n- b\n", 1, "the catalog must be a mapping"},
		{"unknown root field", "shop: x\n" + baseCatalog, 1, `unknown field "shop" in the catalog`},
		{"unknown product field", replace("    rating: 4.5", "    colour: red"), 9, `unknown field "colour" in a product`},
		{"unknown variant field", replace("        stock: 10", "        stok: 10"), 17, `unknown field "stok" in a variant of product pen (known: sku, name, price, stars, stock)`},
		{"unknown spec field", replace("        value: {en: 0.5 mm}", "        val: {en: 0.5 mm}"), 12, `unknown field "val"`},
		{"duplicate key", replace(`        price: "2.50"`, "        price: \"2.50\"\n        price: \"2.60\""), 17, `"price" appears twice in a variant of product pen (first on line 16)`},
		{"alias", replace("{en: Black}", "&black {en: Black}"), 15, "anchors and aliases are not supported"},
		{"missing currency", strings.TrimPrefix(baseCatalog, "currency: CNY\n"), 1, `the catalog has no "currency"`},
		{"currency lower case", replace("currency: CNY", "currency: cny"), 1, `currency "cny" is not a 3-letter upper-case ISO 4217 code`},
		{"currency list", replace("currency: CNY", "currency: [CNY]"), 1, "currency must be a single value, not a list"},
		{"price with comma", replace(`"2.50"`, `"12,5"`), 16, `variant pen-blk: price "12,5" is not a valid amount`},
		{"price too many decimals", replace(`"2.50"`, `"2.505"`), 16, `price "2.505" has more than 2 decimal places`},
		{"price negative", replace(`"2.50"`, `"-2.50"`), 16, `price "-2.50" must not be negative`},
		{"price zero", replace(`"2.50"`, `"0.00"`), 16, "price must be more than zero"},
		{"price overflow", replace(`"2.50"`, `"99999999999999999999"`), 16, "is too large"},
		{"price exponent", replace(`"2.50"`, `2.5e1`), 16, `price "2.5e1" is not a valid amount`},
		{"price trailing dot", replace(`"2.50"`, `"2."`), 16, `is not a valid amount`},
		{"price mapping", replace(`"2.50"`, `{amount: 250}`), 16, "price must be a single value, not a mapping"},
		{"price missing", replace("        price: \"2.50\"\n", ""), 14, `variant pen-blk has no "price"`},
		{"price decimals in JPY", replace("currency: CNY", "currency: JPY"), 16, `price "2.50" must be a whole number`},
		{"stock not a number", replace("stock: 10", "stock: lots"), 17, `stock "lots" is not a valid amount`},
		{"stock negative", replace("stock: 10", "stock: -3"), 17, `stock "-3" must not be negative`},
		{"stock fraction", replace("stock: 10", "stock: 2.5"), 17, `stock "2.5" must be a whole number`},
		{"stock too large", replace("stock: 10", "stock: 1000001"), 17, "is more than 1000000"},
		{"rating too precise", replace("rating: 4.5", "rating: 4.55"), 9, `rating "4.55" has more than 1 decimal places`},
		{"rating above five", replace("rating: 4.5", "rating: 5.1"), 9, `rating "5.1" is more than 5`},
		{"rating word", replace("rating: 4.5", "rating: good"), 9, `rating "good" is not a valid amount`},
		{"name is a string", replace("name: {en: Pen, zh: 笔}", "name: Pen"), 8, `product pen: name must be texts by language, like {en: ..., zh: ...}, not "Pen"`},
		{"bad language tag", replace("{en: Pen, zh: 笔}", "{en: Pen, ZH: 笔}"), 8, `"ZH" is not a language tag`},
		{"name without English", replace("name: {en: Black}", "name: {zh: 黑色}"), 15, `variant pen-blk: name has no English ("en") text`},
		{"empty Chinese name", replace("{en: Pen, zh: 笔}", "{en: Pen, zh: \"\"}"), 8, "product pen: name (zh) is empty"},
		{"kind unknown", replace("    category: office\n", "    category: office\n    kind: food\n"), 8, `kind "food" is not one of goods, service, digital`},
		{"category unknown", replace("    category: office", "    category: toys"), 7, `product pen: category "toys" does not exist`},
		{"category without id", replace("  - id: office\n", "  - \n"), 4, `a category has no "id"`},
		{"category is a string", replace("  - id: office\n    name: {en: Office, zh: 办公}\n", "  - office\n"), 3, `a category must be a mapping of fields, not "office"`},
		{"unclosed list", replace("    rating: 4.5", "    rating: [4.5"), 9, "the [...] list that starts here is not closed"},
		{"bad indentation in a list", replace("        name: {en: Blue}", "       name: {en: Blue}"), 14, `the list that starts here has a line that is not a "- " item`},
		{"value with colon", replace("    rating: 4.5", "    rating: 4: 5"), 9, "mapping values are not allowed in this context"},
		{"unterminated quote", replace(`"2.50"`, `"2.50`), 16, "found unexpected end of stream"},
		{"control character", replace("{en: Pen", "{en: P\x01en"), 0, "control characters are not allowed"},
		{"category id twice", replace("products:", "  - id: office\n    name: {en: Again}\nproducts:"), 5, `category id "office" is used twice`},
		{"sku upper case", replace("sku: pen-blk", "sku: Pen_Blk"), 14, `variant SKU "Pen_Blk" must be lower-case letters`},
		{"sku too long", replace("sku: pen-blk", "sku: "+strings.Repeat("p", 41)), 14, "is longer than 40 characters"},
		{"sku missing", replace("  - sku: pen\n", "  - kind: goods\n"), 6, `a product has no "sku"`},
		{"variant sku twice", replace("sku: pen-blu", "sku: pen-blk"), 18, `variant SKU "pen-blk" is used twice (products pen and pen)`},
		{"variant sku twice across products", baseCatalog + strings.Replace(secondProduct, "cup-1", "pen-blu", 1), 27, `variant SKU "pen-blu" is used twice (products pen and cup)`},
		{"variant sku is another product", baseCatalog + strings.Replace(secondProduct, "cup-1", "pen", 1), 27, `variant SKU "pen" of product cup is also a product SKU`},
		{"product sku twice", baseCatalog + strings.Replace(secondProduct, "sku: cup", "sku: pen", 1), 22, `product SKU "pen" is used twice`},
		{"no variants", baseCatalog + strings.Split(secondProduct, "    variants:")[0] + "    variants: []\n", 26, "product cup has no variants"},
		{"variants not a list", baseCatalog + strings.Split(secondProduct, "    variants:")[0] + "    variants: cup-1\n", 26, "variants must be a list"},
		{"no products", strings.Split(baseCatalog, "products:")[0] + "products:\n", 5, "catalog has no products"},
		{"no categories", replace("categories:\n  - id: office\n    name: {en: Office, zh: 办公}\n", "categories: []\n"), 2, "catalog has no categories"},
		{"image outside", replace("    rating: 4.5", "    image: ../secret.jpg"), 9, `image "../secret.jpg" must not contain ".."`},
		{"image scheme", replace("    rating: 4.5", "    image: ftp://example.com/a.jpg"), 9, "is not an http or https URL"},
		{"spec without value", replace("        value: {en: 0.5 mm}\n", ""), 11, `product pen: spec 1 has no "value"`},
		{"spec value without English", replace("value: {en: 0.5 mm}", "value: {zh: 0.5 毫米}"), 12, `product pen: spec 1: value has no English`},
		{"custom tag", replace("{en: Pen, zh: 笔}", "{en: !!binary UGVu, zh: 笔}"), 8, "unsupported YAML tag !!binary"},
		{"stars on goods", replace("        price: \"2.50\"\n", "        price: \"2.50\"\n        stars: 50\n"), 17, "variant pen-blk: only digital products can be sold for Telegram Stars, and product pen is goods"},
		{"stars on a service", baseCatalog + strings.Replace(starsProduct, "kind: digital", "kind: service", 1), 30, "only digital products can be sold for Telegram Stars, and product cup is service"},
		{"stars fraction", stars("2.5"), 30, `variant cup-1: stars "2.5" must be a whole number (write a whole number of Telegram Stars)`},
		{"stars word", stars("fifty"), 30, `stars "fifty" is not a valid amount`},
		{"stars zero", stars("0"), 30, `stars "0" must be more than zero; leave stars out`},
		{"stars negative", stars("-5"), 30, `stars "-5" must not be negative`},
		{"stars too large", stars("100001"), 30, `stars "100001" is more than 100000`},
		{"stars empty", stars(""), 30, `stars "" is empty`},
		{"stars list", stars("[50]"), 30, "variant cup-1: stars must be a single value, not a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCatalog(strings.NewReader(tt.src))
			if err == nil {
				t.Fatalf("ParseCatalog = %+v, want an error", c)
			}
			if code := ErrorCode(err); code != EINVALID {
				t.Errorf("ErrorCode = %q, want %q (%v)", code, EINVALID, err)
			}
			msg := ErrorMessage(err)
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

func TestParseCatalogNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.yaml")
	src := strings.Replace(baseCatalog, `"2.50"`, `"12,5"`, 1)
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = ParseCatalog(f)
	want := path + ` line 16: variant pen-blk: price "12,5" is not a valid amount`
	if ErrorMessage(err) != want {
		t.Errorf("error = %q, want %q", ErrorMessage(err), want)
	}
}

func TestParseCatalogTooLarge(t *testing.T) {
	src := baseCatalog + "# " + strings.Repeat("x", MaxCatalogBytes) + "\n"
	_, err := ParseCatalog(strings.NewReader(src))
	if ErrorCode(err) != EINVALID || !strings.Contains(ErrorMessage(err), "larger than 8 MiB") {
		t.Errorf("ParseCatalog(huge) = %v, want a size error", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestParseCatalogReadError(t *testing.T) {
	_, err := ParseCatalog(failingReader{})
	if err == nil || ErrorCode(err) != EINTERNAL || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("ParseCatalog(failing reader) = %v, want the read error as internal", err)
	}
}

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in     string
		digits int
		want   int64
		bad    string
	}{
		{"12.50", 2, 1250, ""},
		{"12.5", 2, 1250, ""},
		{"12", 2, 1200, ""},
		{"0.01", 2, 1, ""},
		{"007.10", 2, 710, ""},
		{" 3 ", 2, 300, ""},
		{"1500", 0, 1500, ""},
		{"1.234", 3, 1234, ""},
		{"92233720368547758.07", 2, 9223372036854775807, ""},
		{"92233720368547758.08", 2, 0, "is too large"},
		{"1.5", 0, 0, "must be a whole number"},
		{"1.234", 2, 0, "has more than 2 decimal places"},
		{"", 2, 0, "is empty"},
		{"-1", 2, 0, "must not be negative"},
		{"+1", 2, 0, "is not a valid amount"},
		{".5", 2, 0, "is not a valid amount"},
		{"5.", 2, 0, "is not a valid amount"},
		{"1,5", 2, 0, "is not a valid amount"},
		{"1.2.3", 2, 0, "is not a valid amount"},
		{"１２", 2, 0, "is not a valid amount"},
		{"0x10", 2, 0, "is not a valid amount"},
		{"1_000", 2, 0, "is not a valid amount"},
	}
	for _, tt := range tests {
		got, bad := parseDecimal(tt.in, tt.digits)
		if got != tt.want || bad != tt.bad {
			t.Errorf("parseDecimal(%q, %d) = %d, %q; want %d, %q", tt.in, tt.digits, got, bad, tt.want, tt.bad)
		}
		if bad == "" {
			if back, _ := parseDecimal(formatDecimal(got, tt.digits), tt.digits); back != got {
				t.Errorf("formatDecimal(%d, %d) = %q does not parse back", got, tt.digits, formatDecimal(got, tt.digits))
			}
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Catalog)
		want   string // "" for valid
	}{
		{"valid", func(c *Catalog) {}, ""},
		{"variant without product SKU", func(c *Catalog) { c.Products[0].Variants[0].ProductSKU = "" }, ""},
		{"variant SKU equal to its product's", func(c *Catalog) { c.Products[1].Variants[0].SKU = "cup" }, ""},
		{"nil catalog", nil, "catalog is missing"},
		{"no categories", func(c *Catalog) { c.Categories = nil }, "catalog has no categories"},
		{"empty category id", func(c *Catalog) { c.Categories[0].ID = "" }, `category id "" is empty`},
		{"category id with space", func(c *Catalog) { c.Categories[0].ID = "of fice" }, `category id "of fice" must be lower-case`},
		{"category id starting with dash", func(c *Catalog) { c.Categories[0].ID = "-office" }, `category id "-office" must be`},
		{"category without name", func(c *Catalog) { c.Categories[0].Name = nil }, `category "office": name has no English`},
		{"no products", func(c *Catalog) { c.Products = nil }, "catalog has no products"},
		{"product in unknown category", func(c *Catalog) { c.Products[0].CategoryID = "toys" }, `product pen: category "toys" does not exist`},
		{"empty kind", func(c *Catalog) { c.Products[0].Kind = "" }, `product pen: kind "" is not one of`},
		{"product without variants", func(c *Catalog) { c.Products[0].Variants = nil }, "product pen has no variants"},
		{"product SKU twice", func(c *Catalog) { c.Products[1].SKU = "pen" }, `product SKU "pen" is used twice`},
		{"variant SKU twice", func(c *Catalog) { c.Products[1].Variants[0].SKU = "pen-blk" }, `variant SKU "pen-blk" is used twice (products pen and cup)`},
		{"variant SKU of another product", func(c *Catalog) { c.Products[1].Variants[0].SKU = "pen" }, `variant SKU "pen" of product cup is also a product SKU`},
		{"variant of another product", func(c *Catalog) { c.Products[0].Variants[0].ProductSKU = "cup" }, "variant pen-blk belongs to product cup, not pen"},
		{"control character in name", func(c *Catalog) { c.Products[0].Name["en"] = "Pen\x00" }, "product pen: name (en) contains a control character"},
		{"invalid UTF-8", func(c *Catalog) { c.Products[0].Name["zh"] = "\xff" }, "product pen: name (zh) is not valid UTF-8"},
		{"name too long", func(c *Catalog) { c.Products[0].Name["en"] = strings.Repeat("x", 201) }, "name (en) is longer than 200 characters"},
		{"empty description text", func(c *Catalog) { c.Products[0].Description = Text{"zh": " "} }, "product pen: description (zh) is empty"},
		{"rating too high", func(c *Catalog) { c.Products[0].Rating = 51 }, "product pen: rating must be between 0 and 5.0"},
		{"rating negative", func(c *Catalog) { c.Products[0].Rating = -1 }, "rating must be between"},
		{"zero price", func(c *Catalog) { c.Products[0].Variants[0].Price.Amount = 0 }, "variant pen-blk: price must be more than zero"},
		{"lower-case currency", func(c *Catalog) { c.Products[0].Variants[0].Price.Currency = "cny" }, `variant pen-blk: currency "cny" is not a 3-letter upper-case code`},
		{"mixed currencies in a product", func(c *Catalog) { c.Products[0].Variants[1].Price.Currency = "USD" }, "variant pen-blu: price is in USD but the catalog uses CNY"},
		{"mixed currencies in the catalog", func(c *Catalog) { c.Products[1].Variants[0].Price.Currency = "USD" }, "variant cup-1: price is in USD but the catalog uses CNY"},
		{"negative stock", func(c *Catalog) { c.Products[0].Variants[0].Stock = -1 }, "stock must be between 0 and 1000000"},
		{"too much stock", func(c *Catalog) { c.Products[0].Variants[0].Stock = 1_000_001 }, "stock must be between 0 and 1000000"},
		{"image URL", func(c *Catalog) { c.Products[0].Image = "https://example.com/pen.jpg" }, ""},
		{"image path", func(c *Catalog) { c.Products[0].Image = "images/pen.jpg" }, ""},
		{"absolute image path", func(c *Catalog) { c.Products[0].Image = "/etc/pen.jpg" }, "must be an http(s) URL or a relative path"},
		{"image with space", func(c *Catalog) { c.Products[0].Image = "my pen.jpg" }, "contains spaces"},
		{"image javascript", func(c *Catalog) { c.Products[0].Image = "javascript:alert(1)" }, "must be an http(s) URL or a relative path"},
		{"stars on a digital product", func(c *Catalog) { c.Products[1].Variants[0].Stars = 50 }, ""},
		{"most stars", func(c *Catalog) { c.Products[1].Variants[0].Stars = MaxStars }, ""},
		{"stars on goods", func(c *Catalog) { c.Products[0].Variants[0].Stars = 50 }, "variant pen-blk: only digital products can be sold for Telegram Stars, and product pen is goods"},
		{"negative stars", func(c *Catalog) { c.Products[1].Variants[0].Stars = -1 }, "variant cup-1: stars must be between 1 and 100000, or 0"},
		{"too many stars", func(c *Catalog) { c.Products[1].Variants[0].Stars = MaxStars + 1 }, "variant cup-1: stars must be between 1 and 100000, or 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c *Catalog
			if tt.change != nil {
				c = mustParse(t, baseCatalog+secondProduct)
				tt.change(c)
			}
			wantInvalid(t, c.Validate(), tt.want)
		})
	}
}

func TestDemoCatalog(t *testing.T) {
	f, err := os.Open("../configs/catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := ParseCatalog(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Categories) < 3 || len(c.Products) < 15 {
		t.Errorf("demo catalog has %d categories and %d products, want at least 3 and 15", len(c.Categories), len(c.Products))
	}
	bilingual := func(what string, txt Text) {
		t.Helper()
		if txt["en"] == "" || txt["zh"] == "" || len(txt) != 2 {
			t.Errorf("%s: %v, want exactly en and zh", what, txt)
		}
	}
	kinds := map[Kind]int{}
	outOfStock, lowStock := 0, 0
	for _, cat := range c.Categories {
		bilingual("category "+cat.ID, cat.Name)
		if len(c.InCategory(cat.ID)) == 0 {
			t.Errorf("category %s is empty", cat.ID)
		}
	}
	for _, p := range c.Products {
		kinds[p.Kind]++
		bilingual(p.SKU+" name", p.Name)
		bilingual(p.SKU+" description", p.Description)
		if len(p.Specs) < 2 || len(p.Specs) > 4 {
			t.Errorf("%s has %d specs, want 2 to 4", p.SKU, len(p.Specs))
		}
		for i, s := range p.Specs {
			bilingual(p.SKU+" spec "+strconv.Itoa(i+1)+" name", s.Name)
			bilingual(p.SKU+" spec "+strconv.Itoa(i+1)+" value", s.Value)
		}
		for _, v := range p.Variants {
			bilingual(v.SKU+" name", v.Name)
			if !strings.HasPrefix(v.SKU, p.SKU+"-") {
				t.Errorf("variant %s does not start with its product's SKU %s", v.SKU, p.SKU)
			}
			switch {
			case v.Stock == 0:
				outOfStock++
			case v.Stock <= 5:
				lowStock++
			}
		}
	}
	if kinds[KindDigital] == 0 || kinds[KindGoods] == 0 {
		t.Errorf("demo catalog kinds = %v, want goods and digital", kinds)
	}
	if outOfStock == 0 || lowStock == 0 {
		t.Errorf("demo catalog has %d variants out of stock and %d low, want some of each", outOfStock, lowStock)
	}
	if v, _, ok := c.Variant("pen-gel-blk"); !ok || v.Price != (Money{250, "CNY"}) {
		t.Errorf("pen-gel-blk = %+v, %v; want a price of ¥2.50", v, ok)
	}
	if p, ok := c.Product("pen-gel"); !ok || p.Rating != 46 {
		t.Errorf("pen-gel rating = %d, want 46", p.Rating)
	}
	if v, _, _ := c.Variant("gift-card-50"); v.Stars != 350 {
		t.Errorf("gift-card-50 stars = %d, want 350: the demo shows a Stars price", v.Stars)
	}
}

func TestWriteCatalogRoundTrip(t *testing.T) {
	src, err := os.ReadFile("../configs/catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]string{"demo": string(src), "base": baseCatalog + secondProduct, "stars": baseCatalog + starsProduct} {
		t.Run(name, func(t *testing.T) {
			c := mustParse(t, src)
			var buf bytes.Buffer
			if err := WriteCatalog(&buf, c); err != nil {
				t.Fatal(err)
			}
			back := mustParse(t, buf.String())
			if !reflect.DeepEqual(back, c) {
				t.Errorf("WriteCatalog then ParseCatalog changed the catalog:\n%s", buf.String())
			}
		})
	}
}

func TestWriteCatalogSkipsInactive(t *testing.T) {
	c := mustParse(t, baseCatalog+secondProduct)
	c.Products[0].Active = false
	var buf bytes.Buffer
	if err := WriteCatalog(&buf, c); err != nil {
		t.Fatal(err)
	}
	back := mustParse(t, buf.String())
	if len(back.Products) != 1 || back.Products[0].SKU != "cup" {
		t.Errorf("written products = %+v, want only cup", back.Products)
	}
	c.Products[1].Active = false
	if err := WriteCatalog(&buf, c); ErrorCode(err) != EINVALID {
		t.Errorf("WriteCatalog(no active products) = %v, want EINVALID", err)
	}
}

func FuzzParseCatalog(f *testing.F) {
	demo, err := os.ReadFile("../configs/catalog.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(demo))
	f.Add(baseCatalog)
	f.Add(baseCatalog + secondProduct)
	f.Add(baseCatalog + starsProduct)
	f.Add(strings.Replace(baseCatalog, `"2.50"`, `"12,5"`, 1))
	f.Add(strings.Replace(baseCatalog, "{en: Black}", "&a {en: Black}", 1))
	f.Add("a: &a [*a, *a]\n")
	f.Add("currency: JPY\ncategories: [{id: a, name: {en: A}}]\nproducts: [{sku: b, category: a, name: {en: B}, variants: [{sku: c, name: {en: C}, price: 5, stock: 1}]}]\n")
	f.Fuzz(func(t *testing.T, src string) {
		c, err := ParseCatalog(strings.NewReader(src))
		if err != nil {
			if ErrorCode(err) != EINVALID {
				t.Fatalf("ParseCatalog error %v has code %q, want %q", err, ErrorCode(err), EINVALID)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseCatalog returned a catalog that fails Validate: %v", err)
		}
		var buf bytes.Buffer
		if err := WriteCatalog(&buf, c); err != nil {
			t.Fatalf("WriteCatalog: %v", err)
		}
		back, err := ParseCatalog(&buf)
		if err != nil {
			t.Fatalf("ParseCatalog(WriteCatalog(c)): %v\n%s", err, buf.String())
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip changed the catalog:\n got %+v\nwant %+v", back, c)
		}
	})
}
