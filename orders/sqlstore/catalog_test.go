package sqlstore

import (
	"context"
	"reflect"
	"testing"

	"orderbot/orders"
)

func TestCatalogRoundTrip(t *testing.T) {
	s := mustOpen(t)
	mustImport(t, s, testCatalog())
	got, err := s.Catalog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := testCatalog(); !reflect.DeepEqual(got, want) {
		t.Errorf("Catalog() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestCatalogOrder(t *testing.T) {
	s := mustOpen(t)
	c := testCatalog()
	// Same positions: ids and SKUs break the tie.
	c.Categories[0].Position, c.Categories[1].Position = 5, 5
	c.Products[0].Variants[0].Position, c.Products[0].Variants[1].Position = 1, 1
	// Import in reverse; Catalog sorts.
	c.Categories[0], c.Categories[1] = c.Categories[1], c.Categories[0]
	mustImport(t, s, c)
	got, err := s.Catalog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ids := []string{got.Categories[0].ID, got.Categories[1].ID}; !reflect.DeepEqual(ids, []string{"drinks", "snacks"}) {
		t.Errorf("categories in order %v, want [drinks snacks]", ids)
	}
	tea, _ := got.Product("tea")
	if skus := []string{tea.Variants[0].SKU, tea.Variants[1].SKU}; !reflect.DeepEqual(skus, []string{"tea-black", "tea-green"}) {
		t.Errorf("tea variants in order %v, want [tea-black tea-green]", skus)
	}
}

func TestImportReport(t *testing.T) {
	s := mustOpen(t)
	svc := mustService(t, s)

	first := mustImport(t, s, testCatalog())
	want := orders.ImportReport{CategoriesAdded: 2, ProductsAdded: 5, VariantsAdded: 6}
	if first != want {
		t.Errorf("first import = %+v, want %+v", first, want)
	}
	if again := mustImport(t, s, testCatalog()); again.Changed() {
		t.Errorf("importing the same catalog again = %+v, want no changes", again)
	}

	// tea-black is ordered, so it must survive its removal for the order's sake.
	mustPlace(t, svc, draft("k1", line("tea-black", 1, 1500)))

	next := testCatalog()
	next.Categories[1].Name = text("Snacks & sweets")             // category updated
	next.Products[0].Variants[0].Price = cny(1300)                // tea-green updated
	next.Products[0].Variants = next.Products[0].Variants[:1]     // tea-black removed (ordered)
	next.Products[1].Variants = append(next.Products[1].Variants, // coffee-1kg added
		orders.Variant{SKU: "coffee-1kg", Name: text("1 kg"), Price: cny(16000), Stock: 2, Position: 2})
	next.Products[1].Description = text("Single origin.")       // coffee updated
	next.Products = append(next.Products[:3], next.Products[4]) // cookie dropped: deactivated
	next.Products = append(next.Products, orders.Product{       // juice added
		SKU: "juice", CategoryID: "drinks", Kind: orders.KindGoods, Position: 9, Active: true, Name: text("Juice"),
		Variants: []orders.Variant{{SKU: "juice-1l", Name: text("1 l"), Price: cny(900), Stock: 4}},
	})
	rep := mustImport(t, s, next)
	want = orders.ImportReport{
		CategoriesUpdated: 1,
		ProductsAdded:     1, ProductsUpdated: 1, ProductsDeactivated: 1,
		VariantsAdded: 2, VariantsUpdated: 1, VariantsRemoved: 1,
	}
	if rep != want {
		t.Errorf("second import = %+v, want %+v", rep, want)
	}
	if again := mustImport(t, s, next); again.Changed() {
		t.Errorf("importing the second catalog again = %+v, want no changes", again)
	}

	got, err := s.Catalog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cookie, ok := got.Product("cookie")
	if !ok || cookie.Active {
		t.Errorf("cookie = %+v (found %v), want kept and inactive", cookie, ok)
	}
	if _, _, ok := got.Variant("tea-black"); ok {
		t.Errorf("tea-black is still in the catalog")
	}
	if n := mustStock(t, s, "tea-black"); n != 0 {
		t.Errorf("removed but ordered tea-black has stock %d, want 0", n)
	}
	// A removed variant is never sold.
	_, err = svc.Place(context.Background(), draft("k2", line("tea-black", 1, 1500)))
	if ps := problemsOf(t, err); len(ps) != 1 || ps[0].Kind != orders.ProblemUnavailable {
		t.Errorf("ordering a removed variant: problems %+v, want one %s", ps, orders.ProblemUnavailable)
	}

	// Going back to the first catalog: tea-black returns (added, with the
	// file's stock), coffee-1kg was never ordered and is deleted, juice is
	// deactivated, cookie is active again.
	rep = mustImport(t, s, testCatalog())
	want = orders.ImportReport{
		CategoriesUpdated: 1,
		ProductsUpdated:   2, ProductsDeactivated: 1,
		VariantsAdded: 1, VariantsUpdated: 1, VariantsRemoved: 1,
	}
	if rep != want {
		t.Errorf("third import = %+v, want %+v", rep, want)
	}
	var n int
	if err := s.rdb.Get(&n, "SELECT COUNT(*) FROM variants WHERE sku = 'coffee-1kg'"); err != nil || n != 0 {
		t.Errorf("coffee-1kg rows = %d (%v), want deleted", n, err)
	}
	if got := mustStock(t, s, "tea-black"); got != 5 {
		t.Errorf("tea-black stock after import = %d, want the file's 5", got)
	}
	// The order keeps its line, frozen as it was.
	placed, err := svc.Orders(context.Background(), orders.Filter{Customer: &customer})
	if err != nil || len(placed) != 1 || placed[0].Lines[0].VariantSKU != "tea-black" || placed[0].Lines[0].UnitPrice != cny(1500) {
		t.Errorf("Orders = %+v, %v; want the one tea-black order", placed, err)
	}
}

func TestImportRejectsUnknownCategory(t *testing.T) {
	s := mustOpen(t)
	c := testCatalog()
	c.Products[0].CategoryID = "nope"
	_, err := s.ImportCatalog(context.Background(), c) // bypass the Service's validation
	wantCode(t, err, orders.EINVALID)
	if n := mustCount(t, s, "categories"); n != 0 {
		t.Errorf("a refused import left %d categories", n)
	}
}
