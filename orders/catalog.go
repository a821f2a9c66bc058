package orders

import "sort"

// Text is a text in several languages, keyed by language tag ("en", "zh").
type Text map[string]string

// In returns the text in lang, falling back to English and then to any language.
func (t Text) In(lang string) string {
	if s, ok := t[lang]; ok && s != "" {
		return s
	}
	if s, ok := t["en"]; ok && s != "" {
		return s
	}
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if t[k] != "" {
			return t[k]
		}
	}
	return ""
}

// Kind is what a product is: goods are shipped to an address, services are
// booked, digital products need no address.
type Kind string

// Product kinds.
const (
	KindGoods   Kind = "goods"
	KindService Kind = "service"
	KindDigital Kind = "digital"
)

// NeedsAddress reports whether products of this kind are delivered to an address.
func (k Kind) NeedsAddress() bool { return k != KindDigital }

// Category groups products.
type Category struct {
	ID       string `json:"id"`
	Name     Text   `json:"name"`
	Position int    `json:"position"`
}

// Spec is one line of a product's specification.
type Spec struct {
	Name  Text `json:"name"`
	Value Text `json:"value"`
}

// Product is something that can be ordered, in one or more variants.
type Product struct {
	SKU         string    `json:"sku"`
	CategoryID  string    `json:"category"`
	Kind        Kind      `json:"kind"`
	Name        Text      `json:"name"`
	Description Text      `json:"description"`
	Specs       []Spec    `json:"specs,omitempty"`
	Image       string    `json:"image,omitempty"`
	Rating      int       `json:"rating"` // tenths of a star, 0..50
	Position    int       `json:"position"`
	Active      bool      `json:"active"`
	Variants    []Variant `json:"variants"`
}

// Variant is the unit that has a price and stock (a size, a colour).
type Variant struct {
	SKU        string `json:"sku"`
	ProductSKU string `json:"product"`
	Name       Text   `json:"name"`
	Price      Money  `json:"price"`
	Stars      int64  `json:"stars,omitempty"` // price in Telegram Stars, digital products only; 0: not sold for Stars
	Stock      int    `json:"stock"`
	Position   int    `json:"position"`
}

// CurrencyStars is the currency code of Telegram Stars, which have no minor
// unit: an amount in it is a number of whole stars.
const CurrencyStars = "XTR"

// StarsPrice returns the variant's price in Telegram Stars, and false when
// the variant is not sold for Stars.
func (v Variant) StarsPrice() (Money, bool) {
	return Money{Amount: v.Stars, Currency: CurrencyStars}, v.Stars > 0
}

// Catalog is a snapshot of categories and products, ordered by position.
type Catalog struct {
	Categories []Category `json:"categories"`
	Products   []Product  `json:"products"`
}

// Category returns the category with the given id.
func (c *Catalog) Category(id string) (Category, bool) {
	for _, cat := range c.Categories {
		if cat.ID == id {
			return cat, true
		}
	}
	return Category{}, false
}

// Product returns the product with the given SKU.
func (c *Catalog) Product(sku string) (Product, bool) {
	for _, p := range c.Products {
		if p.SKU == sku {
			return p, true
		}
	}
	return Product{}, false
}

// Variant returns the variant with the given SKU and its product.
func (c *Catalog) Variant(sku string) (Variant, Product, bool) {
	for _, p := range c.Products {
		for _, v := range p.Variants {
			if v.SKU == sku {
				return v, p, true
			}
		}
	}
	return Variant{}, Product{}, false
}

// InCategory returns the active products of a category in catalog order.
func (c *Catalog) InCategory(id string) []Product {
	var ps []Product
	for _, p := range c.Products {
		if p.CategoryID == id && p.Active {
			ps = append(ps, p)
		}
	}
	return ps
}

// ImportReport says what an import changed.
type ImportReport struct {
	CategoriesAdded, CategoriesUpdated int
	ProductsAdded, ProductsUpdated     int
	ProductsDeactivated                int
	VariantsAdded, VariantsUpdated     int
	VariantsRemoved                    int
}

// Changed reports whether the import changed anything.
func (r ImportReport) Changed() bool { return r != ImportReport{} }
