package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"orderbot/orders"
)

// categoryRow, productRow and variantRow are catalog rows as stored: texts
// and specs as JSON, so that comparing two rows tells whether an import
// changes anything.
type categoryRow struct {
	ID       string `db:"id"`
	Name     string `db:"name"`
	Position int    `db:"position"`
}

type productRow struct {
	SKU         string `db:"sku"`
	CategoryID  string `db:"category_id"`
	Kind        string `db:"kind"`
	Name        string `db:"name"`
	Description string `db:"description"`
	Specs       string `db:"specs"`
	Image       string `db:"image"`
	Rating      int    `db:"rating"`
	Position    int    `db:"position"`
	Active      bool   `db:"active"`
}

type variantRow struct {
	SKU        string `db:"sku"`
	ProductSKU string `db:"product_sku"`
	Name       string `db:"name"`
	Price      int64  `db:"price"`
	Currency   string `db:"currency"`
	Stars      int64  `db:"stars"`
	Stock      int    `db:"stock"`
	Position   int    `db:"position"`
	Removed    bool   `db:"removed"`
}

const (
	categoryColumns = "id, name, position"
	productColumns  = "sku, category_id, kind, name, description, specs, image, rating, position, active"
	variantColumns  = "sku, product_sku, name, price, currency, stars, stock, position, removed"
)

// prefixed qualifies each of a comma-separated list of columns.
func prefixed(prefix, columns string) string {
	cols := strings.Split(columns, ", ")
	for i, c := range cols {
		cols[i] = prefix + c
	}
	return strings.Join(cols, ", ")
}

// encodeText stores a text as JSON; an empty text is "{}" whether nil or not,
// so the two never count as a change.
func encodeText(t orders.Text) string {
	if len(t) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(t) // a map[string]string always marshals; keys come out sorted
	return string(b)
}

// decodeText reads what encodeText wrote; an empty text comes back nil.
func decodeText(s string) (orders.Text, error) {
	var t orders.Text
	if err := json.Unmarshal([]byte(s), &t); err != nil {
		return nil, err
	}
	if len(t) == 0 {
		return nil, nil
	}
	return t, nil
}

// encodeSpecs stores specs as JSON; none is "[]".
func encodeSpecs(specs []orders.Spec) string {
	if len(specs) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(specs) // only strings inside
	return string(b)
}

// decodeSpecs reads what encodeSpecs wrote; none comes back nil.
func decodeSpecs(s string) ([]orders.Spec, error) {
	var specs []orders.Spec
	if err := json.Unmarshal([]byte(s), &specs); err != nil {
		return nil, err
	}
	if len(specs) == 0 {
		return nil, nil
	}
	return specs, nil
}

// Catalog returns every category, every product, active or not, and every
// variant still in the catalog, each ordered by position and then id or SKU;
// products by their category's order first.
func (s *Store) Catalog(ctx context.Context) (*orders.Catalog, error) {
	var (
		cats  []categoryRow
		prods []productRow
		vars  []variantRow
	)
	err := s.read(ctx, func(tx *txn) error {
		if err := tx.SelectContext(ctx, &cats, "SELECT "+categoryColumns+" FROM categories ORDER BY position, id"); err != nil {
			return err
		}
		// A product's position is within its category, so products come in
		// the order of their categories first.
		if err := tx.SelectContext(ctx, &prods, `SELECT `+prefixed("p.", productColumns)+`
			FROM products p JOIN categories c ON c.id = p.category_id
			ORDER BY c.position, c.id, p.position, p.sku`); err != nil {
			return err
		}
		return tx.SelectContext(ctx, &vars, "SELECT "+variantColumns+" FROM variants WHERE removed = FALSE ORDER BY position, sku")
	})
	if err != nil {
		return nil, fail("read catalog", err)
	}
	c := &orders.Catalog{
		Categories: make([]orders.Category, 0, len(cats)),
		Products:   make([]orders.Product, 0, len(prods)),
	}
	for _, r := range cats {
		name, err := decodeText(r.Name)
		if err != nil {
			return nil, fail("read catalog", fmt.Errorf("category %s: %w", r.ID, err))
		}
		c.Categories = append(c.Categories, orders.Category{ID: r.ID, Name: name, Position: r.Position})
	}
	index := make(map[string]int, len(prods))
	for _, r := range prods {
		p, err := r.product()
		if err != nil {
			return nil, fail("read catalog", fmt.Errorf("product %s: %w", r.SKU, err))
		}
		index[r.SKU] = len(c.Products)
		c.Products = append(c.Products, p)
	}
	for _, r := range vars {
		i, ok := index[r.ProductSKU]
		if !ok {
			continue // impossible with the foreign key, harmless without
		}
		name, err := decodeText(r.Name)
		if err != nil {
			return nil, fail("read catalog", fmt.Errorf("variant %s: %w", r.SKU, err))
		}
		c.Products[i].Variants = append(c.Products[i].Variants, orders.Variant{
			SKU:        r.SKU,
			ProductSKU: r.ProductSKU,
			Name:       name,
			Price:      orders.Money{Amount: r.Price, Currency: r.Currency},
			Stars:      r.Stars,
			Stock:      r.Stock,
			Position:   r.Position,
		})
	}
	return c, nil
}

// product decodes a product row, without its variants.
func (r productRow) product() (orders.Product, error) {
	name, err := decodeText(r.Name)
	if err != nil {
		return orders.Product{}, err
	}
	desc, err := decodeText(r.Description)
	if err != nil {
		return orders.Product{}, err
	}
	specs, err := decodeSpecs(r.Specs)
	if err != nil {
		return orders.Product{}, err
	}
	return orders.Product{
		SKU:         r.SKU,
		CategoryID:  r.CategoryID,
		Kind:        orders.Kind(r.Kind),
		Name:        name,
		Description: desc,
		Specs:       specs,
		Image:       r.Image,
		Rating:      r.Rating,
		Position:    r.Position,
		Active:      r.Active,
	}, nil
}

// ImportCatalog upserts c in one transaction and reports what changed; an
// unchanged row is not counted, so importing the same catalog twice reports
// nothing the second time.
//
// Products missing from c are deactivated, never deleted: orders refer to
// them. A variant missing from its imported product is deleted when no order
// line refers to it, and otherwise kept for those lines but hidden from the
// catalog, never sold and its stock set to 0; both count as removed.
// Categories missing from c are kept, since deactivated products may still
// be in them.
//
// Stock is set to the file's value: operators restock by importing. So an
// import overwrites whatever was sold since the file's numbers were written;
// the stock column of the file must be the stock meant from now on. (Orders
// already placed keep their reservation either way: reserving decremented
// stock, and cancelling adds back to whatever the import set.)
func (s *Store) ImportCatalog(ctx context.Context, c *orders.Catalog) (orders.ImportReport, error) {
	if c == nil {
		return orders.ImportReport{}, orders.Errorf(orders.EINVALID, "catalog is missing")
	}
	var rep orders.ImportReport
	err := s.write(ctx, func(tx *txn) error {
		rep = orders.ImportReport{} // a retried transaction starts over
		return s.importCatalog(ctx, tx, c, &rep)
	})
	if err != nil {
		return orders.ImportReport{}, fail("import catalog", err)
	}
	return rep, nil
}

func (s *Store) importCatalog(ctx context.Context, tx *txn, c *orders.Catalog, rep *orders.ImportReport) error {
	var (
		oldCats  []categoryRow
		oldProds []productRow
		oldVars  []variantRow
	)
	if err := tx.SelectContext(ctx, &oldCats, "SELECT "+categoryColumns+" FROM categories"); err != nil {
		return err
	}
	if err := tx.SelectContext(ctx, &oldProds, "SELECT "+productColumns+" FROM products"); err != nil {
		return err
	}
	if err := tx.SelectContext(ctx, &oldVars, "SELECT "+variantColumns+" FROM variants"); err != nil {
		return err
	}
	cats := make(map[string]categoryRow, len(oldCats))
	for _, r := range oldCats {
		cats[r.ID] = r
	}
	prods := make(map[string]productRow, len(oldProds))
	for _, r := range oldProds {
		prods[r.SKU] = r
	}
	vars := make(map[string]variantRow, len(oldVars))
	for _, r := range oldVars {
		vars[r.SKU] = r
	}

	for _, cat := range c.Categories {
		r := categoryRow{ID: cat.ID, Name: encodeText(cat.Name), Position: cat.Position}
		old, ok := cats[cat.ID]
		switch {
		case !ok:
			if _, err := tx.ExecContext(ctx, tx.Rebind("INSERT INTO categories ("+categoryColumns+") VALUES (?, ?, ?)"),
				r.ID, r.Name, r.Position); err != nil {
				return err
			}
			rep.CategoriesAdded++
		case old != r:
			if _, err := tx.ExecContext(ctx, tx.Rebind("UPDATE categories SET name = ?, position = ? WHERE id = ?"),
				r.Name, r.Position, r.ID); err != nil {
				return err
			}
			rep.CategoriesUpdated++
		}
		cats[cat.ID] = r
	}

	inImport := make(map[string]bool, len(c.Products))
	varInImport := make(map[string]bool)
	for _, p := range c.Products {
		if _, ok := cats[p.CategoryID]; !ok {
			return orders.Errorf(orders.EINVALID, "product %s: category %q does not exist", p.SKU, p.CategoryID)
		}
		inImport[p.SKU] = true
		r := productRow{
			SKU: p.SKU, CategoryID: p.CategoryID, Kind: string(p.Kind),
			Name: encodeText(p.Name), Description: encodeText(p.Description), Specs: encodeSpecs(p.Specs),
			Image: p.Image, Rating: p.Rating, Position: p.Position, Active: p.Active,
		}
		old, ok := prods[p.SKU]
		switch {
		case !ok:
			if _, err := tx.ExecContext(ctx, tx.Rebind("INSERT INTO products ("+productColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
				r.SKU, r.CategoryID, r.Kind, r.Name, r.Description, r.Specs, r.Image, r.Rating, r.Position, r.Active); err != nil {
				return err
			}
			rep.ProductsAdded++
		case old != r:
			if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE products SET category_id = ?, kind = ?, name = ?, description = ?,
				specs = ?, image = ?, rating = ?, position = ?, active = ? WHERE sku = ?`),
				r.CategoryID, r.Kind, r.Name, r.Description, r.Specs, r.Image, r.Rating, r.Position, r.Active, r.SKU); err != nil {
				return err
			}
			rep.ProductsUpdated++
		}

		for _, v := range p.Variants {
			varInImport[v.SKU] = true
			r := variantRow{
				SKU: v.SKU, ProductSKU: p.SKU, Name: encodeText(v.Name),
				Price: v.Price.Amount, Currency: v.Price.Currency, Stars: v.Stars, Stock: v.Stock, Position: v.Position,
			}
			old, ok := vars[v.SKU]
			switch {
			case !ok:
				if _, err := tx.ExecContext(ctx, tx.Rebind("INSERT INTO variants ("+variantColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
					r.SKU, r.ProductSKU, r.Name, r.Price, r.Currency, r.Stars, r.Stock, r.Position, false); err != nil {
					return err
				}
				rep.VariantsAdded++
			case old != r:
				if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE variants SET product_sku = ?, name = ?, price = ?, currency = ?,
					stars = ?, stock = ?, position = ?, removed = ? WHERE sku = ?`),
					r.ProductSKU, r.Name, r.Price, r.Currency, r.Stars, r.Stock, r.Position, false, r.SKU); err != nil {
					return err
				}
				if old.Removed {
					rep.VariantsAdded++ // back in the catalog after having left it
				} else {
					rep.VariantsUpdated++
				}
			}
		}
	}

	for _, old := range oldProds {
		if inImport[old.SKU] || !old.Active {
			continue
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind("UPDATE products SET active = ? WHERE sku = ?"), false, old.SKU); err != nil {
			return err
		}
		rep.ProductsDeactivated++
	}

	for _, old := range oldVars {
		// Only variants of imported products are the import's business; a
		// deactivated product keeps its variants as they were.
		if !inImport[old.ProductSKU] || varInImport[old.SKU] || old.Removed {
			continue
		}
		var ordered bool
		if err := tx.GetContext(ctx, &ordered, tx.Rebind("SELECT EXISTS (SELECT 1 FROM order_lines WHERE variant_sku = ?)"), old.SKU); err != nil {
			return err
		}
		q := "DELETE FROM variants WHERE sku = ?"
		if ordered {
			q = "UPDATE variants SET removed = TRUE, stock = 0 WHERE sku = ?"
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(q), old.SKU); err != nil {
			return err
		}
		rep.VariantsRemoved++
	}
	return nil
}
