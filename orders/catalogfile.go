package orders

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Catalog limits. SKUs and category ids are short and plain so that a button
// can carry one within Telegram's 64-byte callback data.
const (
	MaxSKULen         = 40
	MaxStock          = 1_000_000
	MaxRating         = 50 // tenths of a star: 5.0 stars
	MaxCatalogNameLen = 200
	MaxDescLen        = 4000
	MaxImageLen       = 1000
	MaxStars          = 100_000 // the highest Stars price of one unit
)

// issue is one thing wrong with a catalog, with where it is: indexes into
// Categories, Products and Products[i].Variants (-1 when not applicable) and
// the field concerned, so that ParseCatalog can point at a line of the file.
type issue struct {
	cat, prod, variant int
	field              string
	msg                string
}

func (is *issue) err() *Error { return Errorf(EINVALID, "%s", is.msg) }

// Validate checks that a catalog is complete and consistent: unique category
// ids and SKUs (variant SKUs unique across the whole catalog), well-formed
// SKUs, existing categories, English names, known kinds, at least one variant
// per product, positive prices in one currency, Stars prices in range and on
// digital products only, stock and rating in range. It returns an *Error
// with code EINVALID naming the offending id or SKU.
func (c *Catalog) Validate() error {
	if is := c.check(); is != nil {
		return is.err()
	}
	return nil
}

func (c *Catalog) check() *issue {
	if c == nil {
		return &issue{cat: -1, prod: -1, variant: -1, msg: "catalog is missing"}
	}
	catIssue := func(i int, field, format string, args ...any) *issue {
		return &issue{cat: i, prod: -1, variant: -1, field: field, msg: fmt.Sprintf(format, args...)}
	}
	prodIssue := func(i int, field, format string, args ...any) *issue {
		return &issue{cat: -1, prod: i, variant: -1, field: field, msg: fmt.Sprintf(format, args...)}
	}
	varIssue := func(i, j int, field, format string, args ...any) *issue {
		return &issue{cat: -1, prod: i, variant: j, field: field, msg: fmt.Sprintf(format, args...)}
	}

	if len(c.Categories) == 0 {
		return catIssue(-1, "categories", "catalog has no categories")
	}
	cats := make(map[string]bool, len(c.Categories))
	for i, cat := range c.Categories {
		if msg := checkID(cat.ID); msg != "" {
			return catIssue(i, "id", "category id %q %s", cat.ID, msg)
		}
		if cats[cat.ID] {
			return catIssue(i, "id", "category id %q is used twice", cat.ID)
		}
		cats[cat.ID] = true
		if msg := checkText(cat.Name, true, MaxCatalogNameLen); msg != "" {
			return catIssue(i, "name", "category %q: name %s", cat.ID, msg)
		}
	}

	if len(c.Products) == 0 {
		return prodIssue(-1, "products", "catalog has no products")
	}
	products := make(map[string]int, len(c.Products)) // SKU → index
	for i, p := range c.Products {
		if msg := checkID(p.SKU); msg != "" {
			return prodIssue(i, "sku", "product SKU %q %s", p.SKU, msg)
		}
		if _, dup := products[p.SKU]; dup {
			return prodIssue(i, "sku", "product SKU %q is used twice", p.SKU)
		}
		products[p.SKU] = i
	}

	currency := ""
	variants := make(map[string]string, len(c.Products)) // variant SKU → product SKU
	for i, p := range c.Products {
		if !cats[p.CategoryID] {
			return prodIssue(i, "category", "product %s: category %q does not exist", p.SKU, p.CategoryID)
		}
		switch p.Kind {
		case KindGoods, KindService, KindDigital:
		default:
			return prodIssue(i, "kind", "product %s: kind %q is not one of goods, service, digital", p.SKU, p.Kind)
		}
		if msg := checkText(p.Name, true, MaxCatalogNameLen); msg != "" {
			return prodIssue(i, "name", "product %s: name %s", p.SKU, msg)
		}
		if msg := checkText(p.Description, false, MaxDescLen); msg != "" {
			return prodIssue(i, "description", "product %s: description %s", p.SKU, msg)
		}
		for k, s := range p.Specs {
			if msg := checkText(s.Name, true, MaxCatalogNameLen); msg != "" {
				return prodIssue(i, fmt.Sprintf("specs.%d.name", k), "product %s: spec %d: name %s", p.SKU, k+1, msg)
			}
			if msg := checkText(s.Value, true, MaxCatalogNameLen); msg != "" {
				return prodIssue(i, fmt.Sprintf("specs.%d.value", k), "product %s: spec %d: value %s", p.SKU, k+1, msg)
			}
		}
		if msg := checkImage(p.Image); msg != "" {
			return prodIssue(i, "image", "product %s: image %s", p.SKU, msg)
		}
		if p.Rating < 0 || p.Rating > MaxRating {
			return prodIssue(i, "rating", "product %s: rating must be between 0 and 5.0", p.SKU)
		}
		if len(p.Variants) == 0 {
			return prodIssue(i, "variants", "product %s has no variants", p.SKU)
		}
		for j, v := range p.Variants {
			if msg := checkID(v.SKU); msg != "" {
				return varIssue(i, j, "sku", "product %s: variant SKU %q %s", p.SKU, v.SKU, msg)
			}
			if other, dup := variants[v.SKU]; dup {
				return varIssue(i, j, "sku", "variant SKU %q is used twice (products %s and %s)", v.SKU, other, p.SKU)
			}
			if k, ok := products[v.SKU]; ok && k != i {
				return varIssue(i, j, "sku", "variant SKU %q of product %s is also a product SKU", v.SKU, p.SKU)
			}
			variants[v.SKU] = p.SKU
			if v.ProductSKU != "" && v.ProductSKU != p.SKU {
				return varIssue(i, j, "sku", "variant %s belongs to product %s, not %s", v.SKU, v.ProductSKU, p.SKU)
			}
			if msg := checkText(v.Name, true, MaxCatalogNameLen); msg != "" {
				return varIssue(i, j, "name", "variant %s: name %s", v.SKU, msg)
			}
			if !isCurrencyCode(v.Price.Currency) {
				return varIssue(i, j, "price", "variant %s: currency %q is not a 3-letter upper-case code", v.SKU, v.Price.Currency)
			}
			if currency == "" {
				currency = v.Price.Currency
			}
			if v.Price.Currency != currency {
				return varIssue(i, j, "price", "variant %s: price is in %s but the catalog uses %s", v.SKU, v.Price.Currency, currency)
			}
			if v.Price.Amount <= 0 {
				return varIssue(i, j, "price", "variant %s: price must be more than zero", v.SKU)
			}
			if v.Stars < 0 || v.Stars > MaxStars {
				return varIssue(i, j, "stars", "variant %s: stars must be between 1 and %d, or 0 when not sold for Stars", v.SKU, MaxStars)
			}
			if v.Stars > 0 && p.Kind != KindDigital {
				return varIssue(i, j, "stars", "variant %s: only digital products can be sold for Telegram Stars, and product %s is %s", v.SKU, p.SKU, p.Kind)
			}
			if v.Stock < 0 || v.Stock > MaxStock {
				return varIssue(i, j, "stock", "variant %s: stock must be between 0 and %d", v.SKU, MaxStock)
			}
		}
	}
	return nil
}

// checkID checks a category id or SKU; it returns what is wrong, or "".
func checkID(s string) string {
	if s == "" {
		return "is empty"
	}
	if len(s) > MaxSKULen {
		return fmt.Sprintf("is longer than %d characters", MaxSKULen)
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= 'a' && b <= 'z', b >= '0' && b <= '9':
		case (b == '.' || b == '_' || b == '-') && i > 0:
		default:
			return "must be lower-case letters, digits, '.', '_' and '-', starting with a letter or digit"
		}
	}
	return ""
}

// checkText checks a text's language tags and values; with required, it must
// have an English value. It returns what is wrong, or "".
func checkText(t Text, required bool, maxLen int) string {
	if required && strings.TrimSpace(t["en"]) == "" {
		return `has no English ("en") text`
	}
	for _, lang := range slices.Sorted(maps.Keys(t)) { // sorted: the same error every time
		s := t[lang]
		if !isLangTag(lang) {
			return fmt.Sprintf("has an invalid language tag %q", lang)
		}
		if !utf8.ValidString(s) {
			return fmt.Sprintf("(%s) is not valid UTF-8", lang)
		}
		if strings.TrimSpace(s) == "" {
			return fmt.Sprintf("(%s) is empty", lang)
		}
		if utf8.RuneCountInString(s) > maxLen {
			return fmt.Sprintf("(%s) is longer than %d characters", lang, maxLen)
		}
		for _, r := range s {
			if unicode.IsControl(r) && r != '\n' && r != '\t' {
				return fmt.Sprintf("(%s) contains a control character", lang)
			}
		}
	}
	return ""
}

// isLangTag accepts simple BCP 47 tags: "en", "zh", "zh-Hans", "pt-BR".
func isLangTag(s string) bool {
	if len(s) > 20 {
		return false
	}
	for i, part := range strings.Split(s, "-") {
		if i == 0 {
			if len(part) < 2 || len(part) > 3 {
				return false
			}
			for _, r := range part {
				if r < 'a' || r > 'z' {
					return false
				}
			}
			continue
		}
		if len(part) < 2 || len(part) > 8 {
			return false
		}
		for _, r := range part {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return false
			}
		}
	}
	return true
}

func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// checkImage accepts "", an http(s) URL with a host, or a relative path that
// stays inside the directory it is resolved against.
func checkImage(s string) string {
	if s == "" {
		return ""
	}
	if len(s) > MaxImageLen {
		return fmt.Sprintf("is longer than %d characters", MaxImageLen)
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || unicode.IsControl(r) || unicode.IsSpace(r) {
			return "contains spaces or control characters"
		}
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Sprintf("%q is not an http or https URL", s)
		}
		return ""
	}
	if strings.HasPrefix(s, "/") || strings.Contains(s, "\\") || strings.Contains(s, ":") {
		return fmt.Sprintf("%q must be an http(s) URL or a relative path", s)
	}
	for _, part := range strings.Split(s, "/") {
		if part == ".." {
			return fmt.Sprintf("%q must not contain \"..\"", s)
		}
	}
	return ""
}

// MaxCatalogBytes is the largest catalog file ParseCatalog reads.
const MaxCatalogBytes = 8 << 20

// ParseCatalog reads a catalog in the YAML format of configs/catalog.yaml:
//
//	currency: CNY
//	categories:
//	  - id: office
//	    name: {en: Office supplies, zh: 办公用品}
//	products:
//	  - sku: pen-gel
//	    category: office
//	    kind: goods            # goods (the default), service or digital
//	    name: {en: Gel pen, zh: 中性笔}
//	    description: {en: ..., zh: ...}
//	    image: https://example.com/pen.jpg   # or a relative path
//	    rating: 4.6            # stars, one decimal at most
//	    specs:
//	      - name: {en: Tip, zh: 笔尖}
//	        value: {en: 0.5 mm, zh: 0.5 毫米}
//	    variants:
//	      - sku: pen-gel-blk
//	        name: {en: Black, zh: 黑色}
//	        price: "3.50"      # in currency, never more decimals than it has
//	        stock: 200
//	  - sku: gift-card
//	    category: office
//	    kind: digital
//	    name: {en: Gift card, zh: 礼品卡}
//	    variants:
//	      - sku: gift-card-50
//	        name: {en: ¥50, zh: 50 元}
//	        price: "50.00"
//	        stars: 350         # digital products only: also sold for 350 Telegram Stars
//	        stock: 1000
//
// Unknown fields, wrong types, anchors and aliases are errors. Products and
// variants are numbered by their order in the file and are active. The result
// passes Validate. Every error is an *Error with code EINVALID whose message
// names the file (when r has a Name method, as *os.File does) and the line,
// e.g. `catalog.yaml line 12: product pen-gel: price "12,5" is not a valid
// amount`; a failed read is returned wrapped as it is.
func ParseCatalog(r io.Reader) (*Catalog, error) {
	p := &catalogParser{name: "catalog"}
	if n, ok := r.(interface{ Name() string }); ok && n.Name() != "" {
		p.name = n.Name()
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxCatalogBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p.name, err)
	}
	if len(data) > MaxCatalogBytes {
		return nil, Errorf(EINVALID, "%s is larger than %d MiB", p.name, MaxCatalogBytes>>20)
	}
	root, err := decodeYAML(data)
	if err != nil {
		return nil, p.yamlErr(err)
	}
	c, err := p.catalog(root)
	if err != nil {
		return nil, err
	}
	if is := c.check(); is != nil {
		return nil, p.errAt(p.issueLine(is), "%s", is.msg)
	}
	return c, nil
}

// decodeYAML parses exactly one YAML document and returns its root node.
func decodeYAML(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("yaml: the file is empty")
		}
		return nil, err
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("yaml: line %d: only one YAML document is allowed", more.Line)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, errors.New("yaml: the file is empty")
	}
	return doc.Content[0], nil
}

// catalogParser turns a YAML node tree into a Catalog, remembering where each
// item and field was so that later errors can point at a line.
type catalogParser struct {
	name     string
	root     itemLines
	cats     []itemLines
	prods    []itemLines
	variants [][]itemLines
}

// itemLines is where a list item starts and where each of its fields is.
type itemLines struct {
	line   int
	fields map[string]int
}

func (l itemLines) at(field string) int {
	if n, ok := l.fields[field]; ok {
		return n
	}
	return l.line
}

// issueLine maps a Validate issue to the line of the field it is about.
func (p *catalogParser) issueLine(is *issue) int {
	switch {
	case is.variant >= 0 && is.prod >= 0 && is.prod < len(p.variants) && is.variant < len(p.variants[is.prod]):
		return p.variants[is.prod][is.variant].at(is.field)
	case is.prod >= 0 && is.prod < len(p.prods):
		return p.prods[is.prod].at(is.field)
	case is.cat >= 0 && is.cat < len(p.cats):
		return p.cats[is.cat].at(is.field)
	default:
		return p.root.at(is.field)
	}
}

func (p *catalogParser) errAt(line int, format string, args ...any) *Error {
	return Errorf(EINVALID, "%s line %d: %s", p.name, max(line, 1), fmt.Sprintf(format, args...))
}

var yamlLineErr = regexp.MustCompile(`^line (\d+): (.*)$`)

// yamlParserErrors are yaml.v3's parser (not scanner) problems. For these it
// reports the 0-based line where the enclosing construct starts, so the line
// is one more; the hint says what that construct is.
var yamlParserErrors = map[string]string{
	"did not find expected ',' or '}'":       "the {...} mapping that starts here is not closed or misses a comma",
	"did not find expected ',' or ']'":       "the [...] list that starts here is not closed or misses a comma",
	"did not find expected key":              "the mapping that starts here has a line that is not \"key: value\" or is indented wrongly",
	"did not find expected '-' indicator":    "the list that starts here has a line that is not a \"- \" item or is indented wrongly",
	"did not find expected node content":     "a value is missing here",
	"did not find expected <document start>": "unexpected content after the document",
	"did not find expected <stream-start>":   "",
	"found undefined tag handle":             "",
	"found duplicate %YAML directive":        "",
	"found incompatible YAML document":       "",
	"found duplicate %TAG directive":         "",
}

// yamlErr rewords a yaml.v3 syntax error as "name line N: problem".
func (p *catalogParser) yamlErr(err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if hint, ok := yamlParserErrors[msg]; ok {
		line++
		if hint != "" {
			msg = hint + " (" + msg + ")"
		}
	}
	if line == 0 {
		return Errorf(EINVALID, "%s: %s", p.name, msg)
	}
	return p.errAt(line, "%s", msg)
}

// field is one key of a mapping and its value.
type field struct{ key, val *yaml.Node }

// mapping checks that n is a mapping with scalar keys, no duplicates and
// (when allowed is not nil) only allowed keys.
func (p *catalogParser) mapping(n *yaml.Node, what string, allowed []string) (map[string]field, []string, error) {
	if err := p.noAlias(n); err != nil {
		return nil, nil, err
	}
	if n.Kind != yaml.MappingNode {
		return nil, nil, p.errAt(n.Line, "%s must be a mapping of fields, not %s", what, describe(n))
	}
	fields := make(map[string]field, len(n.Content)/2)
	var order []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if err := p.noAlias(k); err != nil {
			return nil, nil, err
		}
		if err := p.noAlias(v); err != nil {
			return nil, nil, err
		}
		if k.Kind != yaml.ScalarNode {
			return nil, nil, p.errAt(k.Line, "%s has a key that is not a plain name", what)
		}
		if allowed != nil && !slices.Contains(allowed, k.Value) {
			return nil, nil, p.errAt(k.Line, "unknown field %q in %s (known: %s)", k.Value, what, strings.Join(allowed, ", "))
		}
		if prev, dup := fields[k.Value]; dup {
			return nil, nil, p.errAt(k.Line, "%q appears twice in %s (first on line %d)", k.Value, what, prev.key.Line)
		}
		fields[k.Value] = field{k, v}
		order = append(order, k.Value)
	}
	return fields, order, nil
}

func (p *catalogParser) noAlias(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return p.errAt(n.Line, "YAML anchors and aliases are not supported in a catalog")
	}
	return nil
}

// lines records where an item's fields are.
func lines(n *yaml.Node, fields map[string]field) itemLines {
	l := itemLines{line: n.Line, fields: make(map[string]int, len(fields))}
	for name, f := range fields {
		l.fields[name] = f.key.Line
	}
	return l
}

// require returns the named field's value or an error at the item's line.
func (p *catalogParser) require(n *yaml.Node, fields map[string]field, name, what string) (*yaml.Node, error) {
	f, ok := fields[name]
	if !ok {
		return nil, p.errAt(n.Line, "%s has no %q", what, name)
	}
	return f.val, nil
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// scalar returns a scalar's text; strings, numbers and booleans are all text
// here, null is "", anything else is an error.
func (p *catalogParser) scalar(n *yaml.Node, what string) (string, error) {
	if err := p.noAlias(n); err != nil {
		return "", err
	}
	if n.Kind != yaml.ScalarNode {
		return "", p.errAt(n.Line, "%s must be a single value, not %s", what, describe(n))
	}
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float", "!!bool":
		return n.Value, nil
	case "!!null":
		return "", nil
	}
	return "", p.errAt(n.Line, "%s has an unsupported YAML tag %s", what, n.Tag)
}

func (p *catalogParser) sequence(n *yaml.Node, what string) ([]*yaml.Node, error) {
	if err := p.noAlias(n); err != nil {
		return nil, err
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, p.errAt(n.Line, "%s must be a list, not %s", what, describe(n))
	}
	return n.Content, nil
}

// text reads a {lang: text} mapping.
func (p *catalogParser) text(n *yaml.Node, what string) (Text, error) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode && n.Kind != yaml.AliasNode {
		return nil, p.errAt(n.Line, "%s must be texts by language, like {en: ..., zh: ...}, not %s", what, describe(n))
	}
	fields, langs, err := p.mapping(n, what, nil)
	if err != nil {
		return nil, err
	}
	if len(fields) == 0 {
		return nil, nil
	}
	t := make(Text, len(fields))
	for _, lang := range langs { // in file order, so that errors are reproducible
		f := fields[lang]
		if !isLangTag(lang) {
			return nil, p.errAt(f.key.Line, "%s: %q is not a language tag such as en or zh", what, lang)
		}
		s, err := p.scalar(f.val, what+" ("+lang+")")
		if err != nil {
			return nil, err
		}
		t[lang] = s
	}
	return t, nil
}

// catalog reads the root mapping.
func (p *catalogParser) catalog(root *yaml.Node) (*Catalog, error) {
	fields, _, err := p.mapping(root, "the catalog", []string{"currency", "categories", "products"})
	if err != nil {
		return nil, err
	}
	p.root = lines(root, fields)
	cn, err := p.require(root, fields, "currency", "the catalog")
	if err != nil {
		return nil, err
	}
	currency, err := p.scalar(cn, "currency")
	if err != nil {
		return nil, err
	}
	if !isCurrencyCode(currency) {
		return nil, p.errAt(cn.Line, "currency %q is not a 3-letter upper-case ISO 4217 code such as CNY", currency)
	}
	c := &Catalog{}
	if f, ok := fields["categories"]; ok {
		items, err := p.sequence(f.val, "categories")
		if err != nil {
			return nil, err
		}
		for i, n := range items {
			cat, err := p.category(n)
			if err != nil {
				return nil, err
			}
			cat.Position = i + 1
			c.Categories = append(c.Categories, cat)
		}
	}
	if f, ok := fields["products"]; ok {
		items, err := p.sequence(f.val, "products")
		if err != nil {
			return nil, err
		}
		for i, n := range items {
			prod, err := p.product(n, currency)
			if err != nil {
				return nil, err
			}
			prod.Position = i + 1
			c.Products = append(c.Products, prod)
		}
	}
	return c, nil
}

func (p *catalogParser) category(n *yaml.Node) (Category, error) {
	fields, _, err := p.mapping(n, "a category", []string{"id", "name"})
	if err != nil {
		return Category{}, err
	}
	p.cats = append(p.cats, lines(n, fields))
	var cat Category
	idn, err := p.require(n, fields, "id", "a category")
	if err != nil {
		return Category{}, err
	}
	if cat.ID, err = p.scalar(idn, "category id"); err != nil {
		return Category{}, err
	}
	nn, err := p.require(n, fields, "name", "category "+cat.ID)
	if err != nil {
		return Category{}, err
	}
	if cat.Name, err = p.text(nn, "category "+cat.ID+": name"); err != nil {
		return Category{}, err
	}
	return cat, nil
}

func (p *catalogParser) product(n *yaml.Node, currency string) (Product, error) {
	fields, _, err := p.mapping(n, "a product", []string{
		"sku", "category", "kind", "name", "description", "image", "rating", "specs", "variants"})
	if err != nil {
		return Product{}, err
	}
	l := lines(n, fields)
	p.prods = append(p.prods, l)
	p.variants = append(p.variants, nil)
	pr := Product{Kind: KindGoods, Active: true}
	sn, err := p.require(n, fields, "sku", "a product")
	if err != nil {
		return Product{}, err
	}
	if pr.SKU, err = p.scalar(sn, "product SKU"); err != nil {
		return Product{}, err
	}
	what := "product " + pr.SKU
	for _, name := range []string{"category", "name", "variants"} {
		if _, err := p.require(n, fields, name, what); err != nil {
			return Product{}, err
		}
	}
	if pr.CategoryID, err = p.scalar(fields["category"].val, what+": category"); err != nil {
		return Product{}, err
	}
	if f, ok := fields["kind"]; ok {
		k, err := p.scalar(f.val, what+": kind")
		if err != nil {
			return Product{}, err
		}
		pr.Kind = Kind(k)
		if pr.Kind != KindGoods && pr.Kind != KindService && pr.Kind != KindDigital {
			return Product{}, p.errAt(f.val.Line, "%s: kind %q is not one of goods, service, digital", what, k)
		}
	}
	if pr.Name, err = p.text(fields["name"].val, what+": name"); err != nil {
		return Product{}, err
	}
	if f, ok := fields["description"]; ok {
		if pr.Description, err = p.text(f.val, what+": description"); err != nil {
			return Product{}, err
		}
	}
	if f, ok := fields["image"]; ok {
		if pr.Image, err = p.scalar(f.val, what+": image"); err != nil {
			return Product{}, err
		}
	}
	if f, ok := fields["rating"]; ok {
		s, err := p.scalar(f.val, what+": rating")
		if err != nil {
			return Product{}, err
		}
		r, msg := parseDecimal(s, 1)
		if msg == "" && r > MaxRating {
			msg = "is more than 5"
		}
		if msg != "" {
			return Product{}, p.errAt(f.val.Line, "%s: rating %q %s (write stars like 4.6)", what, s, msg)
		}
		pr.Rating = int(r)
	}
	if f, ok := fields["specs"]; ok {
		items, err := p.sequence(f.val, what+": specs")
		if err != nil {
			return Product{}, err
		}
		for k, sn := range items {
			sw := fmt.Sprintf("%s: spec %d", what, k+1)
			sf, _, err := p.mapping(sn, sw, []string{"name", "value"})
			if err != nil {
				return Product{}, err
			}
			var s Spec
			for _, name := range []string{"name", "value"} {
				vn, err := p.require(sn, sf, name, sw)
				if err != nil {
					return Product{}, err
				}
				t, err := p.text(vn, sw+": "+name)
				if err != nil {
					return Product{}, err
				}
				if name == "name" {
					s.Name = t
				} else {
					s.Value = t
				}
				l.fields[fmt.Sprintf("specs.%d.%s", k, name)] = sf[name].key.Line
			}
			pr.Specs = append(pr.Specs, s)
		}
	}
	items, err := p.sequence(fields["variants"].val, what+": variants")
	if err != nil {
		return Product{}, err
	}
	for j, vn := range items {
		v, err := p.variant(vn, what, currency)
		if err != nil {
			return Product{}, err
		}
		v.ProductSKU = pr.SKU
		v.Position = j + 1
		pr.Variants = append(pr.Variants, v)
	}
	return pr, nil
}

func (p *catalogParser) variant(n *yaml.Node, what, currency string) (Variant, error) {
	fields, _, err := p.mapping(n, "a variant of "+what, []string{"sku", "name", "price", "stars", "stock"})
	if err != nil {
		return Variant{}, err
	}
	last := len(p.variants) - 1
	p.variants[last] = append(p.variants[last], lines(n, fields))
	var v Variant
	sn, err := p.require(n, fields, "sku", "a variant of "+what)
	if err != nil {
		return Variant{}, err
	}
	if v.SKU, err = p.scalar(sn, what+": variant SKU"); err != nil {
		return Variant{}, err
	}
	what = "variant " + v.SKU
	for _, name := range []string{"name", "price", "stock"} {
		if _, err := p.require(n, fields, name, what); err != nil {
			return Variant{}, err
		}
	}
	if v.Name, err = p.text(fields["name"].val, what+": name"); err != nil {
		return Variant{}, err
	}
	pn := fields["price"].val
	ps, err := p.scalar(pn, what+": price")
	if err != nil {
		return Variant{}, err
	}
	amount, msg := parseDecimal(ps, MinorDigits(currency))
	if msg != "" {
		return Variant{}, p.errAt(pn.Line, "%s: price %q %s", what, ps, msg)
	}
	if amount == 0 {
		return Variant{}, p.errAt(pn.Line, "%s: price must be more than zero", what)
	}
	v.Price = Money{Amount: amount, Currency: currency}
	if f, ok := fields["stars"]; ok {
		// Whether the product may be sold for Stars at all is Validate's
		// to say: it knows the product's kind.
		s, err := p.scalar(f.val, what+": stars")
		if err != nil {
			return Variant{}, err
		}
		stars, msg := parseDecimal(s, 0)
		switch {
		case msg != "":
			msg += " (write a whole number of Telegram Stars)"
		case stars == 0:
			msg = "must be more than zero; leave stars out when the variant is not sold for Stars"
		case stars > MaxStars:
			msg = fmt.Sprintf("is more than %d", MaxStars)
		}
		if msg != "" {
			return Variant{}, p.errAt(f.val.Line, "%s: stars %q %s", what, s, msg)
		}
		v.Stars = stars
	}
	stn := fields["stock"].val
	ss, err := p.scalar(stn, what+": stock")
	if err != nil {
		return Variant{}, err
	}
	stock, msg := parseDecimal(ss, 0)
	if msg == "" && stock > MaxStock {
		msg = fmt.Sprintf("is more than %d", MaxStock)
	}
	if msg != "" {
		return Variant{}, p.errAt(stn.Line, "%s: stock %q %s (write a whole number of units)", what, ss, msg)
	}
	v.Stock = int(stock)
	return v, nil
}

// parseDecimal parses a non-negative decimal such as "12.50" into an integer
// scaled by 10^digits ("12.50", 2 → 1250), exactly and without floats. It
// returns what is wrong with s, or "".
func parseDecimal(s string, digits int) (int64, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, "is empty"
	}
	if s[0] == '-' {
		return 0, "must not be negative"
	}
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || (dot && frac == "") {
		return 0, "is not a valid amount"
	}
	for _, part := range []string{whole, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return 0, "is not a valid amount"
			}
		}
	}
	if len(frac) > digits {
		if digits == 0 {
			return 0, "must be a whole number"
		}
		return 0, fmt.Sprintf("has more than %d decimal places", digits)
	}
	frac += strings.Repeat("0", digits-len(frac))
	var n int64
	for _, c := range whole + frac {
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, "is too large"
		}
		n = n*10 + d
	}
	return n, ""
}

// formatDecimal is the inverse of parseDecimal: 1250, 2 → "12.50".
func formatDecimal(n int64, digits int) string {
	s := strconv.FormatInt(n, 10)
	if digits == 0 {
		return s
	}
	if len(s) <= digits {
		s = strings.Repeat("0", digits-len(s)+1) + s
	}
	return s[:len(s)-digits] + "." + s[len(s)-digits:]
}

// WriteCatalog writes c in the format ParseCatalog reads, so that an imported
// catalog can be exported, edited and imported again. Inactive products are
// left out: importing the file keeps them inactive. c must pass Validate.
func WriteCatalog(w io.Writer, c *Catalog) error {
	if err := c.Validate(); err != nil {
		return err
	}
	currency := c.Products[0].Variants[0].Price.Currency
	digits := MinorDigits(currency)

	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
	num := func(tag, s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: s} }
	mapping := func(kv ...any) *yaml.Node {
		m := &yaml.Node{Kind: yaml.MappingNode}
		for i := 0; i < len(kv); i += 2 {
			m.Content = append(m.Content, str(kv[i].(string)), kv[i+1].(*yaml.Node))
		}
		return m
	}
	text := func(t Text) *yaml.Node {
		langs := make([]string, 0, len(t))
		for lang := range t {
			langs = append(langs, lang)
		}
		slices.SortFunc(langs, func(a, b string) int { // English first, then alphabetical
			switch {
			case a == b:
				return 0
			case a == "en":
				return -1
			case b == "en":
				return 1
			}
			return strings.Compare(a, b)
		})
		m := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
		for _, lang := range langs {
			m.Content = append(m.Content, str(lang), str(t[lang]))
		}
		return m
	}

	cats := &yaml.Node{Kind: yaml.SequenceNode}
	for _, cat := range c.Categories {
		cats.Content = append(cats.Content, mapping("id", str(cat.ID), "name", text(cat.Name)))
	}
	prods := &yaml.Node{Kind: yaml.SequenceNode}
	for _, p := range c.Products {
		if !p.Active {
			continue
		}
		n := mapping("sku", str(p.SKU), "category", str(p.CategoryID), "kind", str(string(p.Kind)), "name", text(p.Name))
		if len(p.Description) > 0 {
			n.Content = append(n.Content, str("description"), text(p.Description))
		}
		if p.Image != "" {
			n.Content = append(n.Content, str("image"), str(p.Image))
		}
		if p.Rating > 0 {
			n.Content = append(n.Content, str("rating"), num("!!float", formatDecimal(int64(p.Rating), 1)))
		}
		if len(p.Specs) > 0 {
			specs := &yaml.Node{Kind: yaml.SequenceNode}
			for _, s := range p.Specs {
				specs.Content = append(specs.Content, mapping("name", text(s.Name), "value", text(s.Value)))
			}
			n.Content = append(n.Content, str("specs"), specs)
		}
		vs := &yaml.Node{Kind: yaml.SequenceNode}
		for _, v := range p.Variants {
			price := str(formatDecimal(v.Price.Amount, digits))
			price.Style = yaml.DoubleQuotedStyle
			vn := mapping("sku", str(v.SKU), "name", text(v.Name), "price", price)
			if v.Stars > 0 {
				vn.Content = append(vn.Content, str("stars"), num("!!int", strconv.FormatInt(v.Stars, 10)))
			}
			vn.Content = append(vn.Content, str("stock"), num("!!int", strconv.Itoa(v.Stock)))
			vs.Content = append(vs.Content, vn)
		}
		n.Content = append(n.Content, str("variants"), vs)
		prods.Content = append(prods.Content, n)
	}
	if len(prods.Content) == 0 {
		return Errorf(EINVALID, "catalog has no active products")
	}
	root := mapping("currency", str(currency), "categories", cats, "products", prods)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return fmt.Errorf("writing catalog: %w", err)
	}
	return enc.Close()
}
