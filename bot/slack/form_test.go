package slack

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"orderbot/bot"
	"orderbot/bot/slack/slackfake"
	"orderbot/dialog"
)

// shop is the order form's catalog for these tests: a gel pen in two
// colours and a notebook in one size. Its check refuses what the
// adapter must map onto the modal's blocks.
type shop struct{}

var (
	shopProducts = []dialog.Button{{Label: "Gel pen — ¥2.50", Action: "pen"}, {Label: "Notebook — ¥18.00", Action: "notebook"}}
	shopVariants = map[string][]dialog.Button{
		"pen":      {{Label: "Black — ¥2.50", Action: "pen-blk"}, {Label: "Blue — ¥2.50", Action: "pen-blu"}},
		"notebook": {{Label: "A5 — ¥18.00", Action: "notebook-a5"}},
	}
)

func (shop) FormProducts(_ context.Context, _ dialog.Key, query string) ([]dialog.Button, error) {
	var found []dialog.Button
	for _, p := range shopProducts {
		if strings.Contains(strings.ToLower(p.Label), strings.ToLower(query)) {
			found = append(found, p)
		}
	}
	return found, nil
}

func (shop) FormVariants(_ context.Context, _ dialog.Key, productSKU string) ([]dialog.Button, error) {
	return shopVariants[productSKU], nil
}

func (shop) FormDefaults(context.Context, dialog.Key) (dialog.OrderForm, error) {
	return dialog.OrderForm{Location: "HQ, 12F", Name: "Li Lei", Phone: "+8613800138000", CostCentre: "R&D-42"}, nil
}

func (shop) CheckForm(_ context.Context, _ dialog.Key, f *dialog.OrderForm) (map[string]string, error) {
	problems := map[string]string{}
	variants, known := shopVariants[f.ProductSKU]
	switch {
	case !known:
		problems[dialog.FormProduct] = "Please choose a product."
	case !slices.ContainsFunc(variants, func(v dialog.Button) bool { return v.Action == f.VariantSKU }):
		problems[dialog.FormVariant] = "Please choose an option of this product."
	}
	if f.Location == "" {
		problems[dialog.FormLocation] = "Where to?"
	}
	return problems, nil
}

// inbox is the hub: it keeps what it is given and reports it handled at
// once, with no replies.
type inbox struct {
	mu  sync.Mutex
	got []dialog.Inbound
}

func (x *inbox) Submit(in dialog.Inbound, deliver bot.Deliver) error {
	x.mu.Lock()
	x.got = append(x.got, in)
	x.mu.Unlock()
	if deliver != nil {
		deliver(context.Background(), in, nil, nil)
	}
	return nil
}

func (x *inbox) messages() []dialog.Inbound {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.Clone(x.got)
}

// formEnv is a bot with the shop's order form, its Slack endpoints, and a
// fake Slack.
type formEnv struct {
	t    *testing.T
	fake *slackfake.Server
	hub  *inbox
	srv  *httptest.Server
}

const formSecret = "form-signing-secret"

func newFormEnv(t *testing.T) *formEnv {
	t.Helper()
	e := &formEnv{t: t, fake: slackfake.NewServer(t), hub: &inbox{}}
	cfg := Config{
		Token: "xoxb-form", SigningSecret: formSecret, APIURL: e.fake.URL(),
		Forms: shop{}, Logger: slog.New(slog.DiscardHandler),
	}
	b, err := New(context.Background(), cfg, e.hub)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/commands", b.CommandsHandler())
	mux.Handle("/interactivity", b.InteractivityHandler())
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// post sends a signed request and returns Slack's answer.
func (e *formEnv) post(path string, body []byte) (int, []byte) {
	e.t.Helper()
	code, answer, err := slackfake.Post(e.srv.URL+path, formSecret, time.Now(), slackfake.ContentTypeForm, body)
	if err != nil {
		e.t.Fatal(err)
	}
	return code, answer
}

// open runs /order with what was typed and returns the modal's id and view.
func (e *formEnv) open(typed string) (string, slackapi.View) {
	e.t.Helper()
	seq := e.fake.LastSeq()
	if code, answer := e.post("/commands", e.fake.Command("U1", "C1", "/order", typed, "trig-1")); code != http.StatusOK || len(answer) != 0 {
		e.t.Fatalf("/order %s answered %d %s", typed, code, answer)
	}
	c := e.lastCall(seq, "views.open")
	ids := e.fake.ModalIDs()
	return ids[len(ids)-1], e.view(c)
}

// lastCall is the call of method made after seq; the test fails without one.
func (e *formEnv) lastCall(seq int, method string) slackfake.Call {
	e.t.Helper()
	calls := e.fake.Calls(method)
	if len(calls) == 0 || calls[len(calls)-1].Seq <= seq {
		e.t.Fatalf("no %s after call %d", method, seq)
	}
	return calls[len(calls)-1]
}

// view decodes the view a views.* call sent.
func (e *formEnv) view(c slackfake.Call) slackapi.View {
	e.t.Helper()
	var v slackapi.View
	if err := c.Decode("view", &v); err != nil {
		e.t.Fatal(err)
	}
	return v
}

// choose plays the user choosing a product in the modal, with the other
// fields as typed, and returns the views.update it led to.
func (e *formEnv) choose(viewID, product string, typed map[string]map[string]any) slackfake.Call {
	e.t.Helper()
	body, err := e.fake.Choose("U1", viewID, dialog.FormProduct, product, typed)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.chooseWith(body)
}

func (e *formEnv) chooseWith(body []byte) slackfake.Call {
	e.t.Helper()
	seq := e.fake.LastSeq()
	if code, answer := e.post("/interactivity", body); code != http.StatusOK || len(answer) != 0 {
		e.t.Fatalf("the choice answered %d %s", code, answer)
	}
	return e.lastCall(seq, "views.update")
}

// submit plays the user submitting the modal and returns Slack's answer.
func (e *formEnv) submit(viewID string, values map[string]map[string]any) (int, map[string]string) {
	e.t.Helper()
	body, err := e.fake.Submit("U1", viewID, values)
	if err != nil {
		e.t.Fatal(err)
	}
	code, answer := e.post("/interactivity", body)
	var resp struct {
		Action string            `json:"response_action"`
		Errors map[string]string `json:"errors"`
	}
	if len(answer) > 0 {
		if err := json.Unmarshal(answer, &resp); err != nil || resp.Action != "errors" {
			e.t.Fatalf("answered %s", answer)
		}
	}
	return code, resp.Errors
}

// modal is what a modal shows, by block_id.
type modal struct {
	blocks map[string]slackapi.Block
	order  []string // block_ids, context blocks as "context"
}

func read(v slackapi.View) modal {
	m := modal{blocks: map[string]slackapi.Block{}}
	for _, b := range v.Blocks.BlockSet {
		id := b.ID()
		if b.BlockType() == slackapi.MBTContext {
			id = "context"
		}
		m.blocks[id] = b
		m.order = append(m.order, id)
	}
	return m
}

// selectIn is the select menu of an input block, nil when there is none.
func (m modal) selectIn(blockID string) *slackapi.SelectBlockElement {
	in, _ := m.blocks[blockID].(*slackapi.InputBlock)
	if in == nil {
		return nil
	}
	sel, _ := in.Element.(*slackapi.SelectBlockElement)
	return sel
}

// value is the initial value of a text input.
func (m modal) value(blockID string) string {
	in, _ := m.blocks[blockID].(*slackapi.InputBlock)
	if in == nil {
		return ""
	}
	el, _ := in.Element.(*slackapi.PlainTextInputBlockElement)
	if el == nil {
		return ""
	}
	return el.InitialValue
}

// context is the text of the modal's context line, "" when none.
func (m modal) context() string {
	c, _ := m.blocks["context"].(*slackapi.ContextBlock)
	if c == nil || len(c.ContextElements.Elements) == 0 {
		return ""
	}
	t, _ := c.ContextElements.Elements[0].(*slackapi.TextBlockObject)
	if t == nil {
		return ""
	}
	return t.Text
}

func optionValues(opts []*slackapi.OptionBlockObject) []string {
	var out []string
	for _, o := range opts {
		out = append(out, o.Value)
	}
	return out
}

func initialValue(sel *slackapi.SelectBlockElement) string {
	if sel == nil || sel.InitialOption == nil {
		return ""
	}
	return sel.InitialOption.Value
}

// /order opens the form with the product as a type-ahead that dispatches
// its choice; what was typed after /order chooses the first matching
// product, lists its variants, and chooses the only one.
func TestOrderFormOpens(t *testing.T) {
	tests := []struct {
		name, typed      string
		product          string   // chosen
		variants         []string // offered
		variant, context string   // chosen; the line shown instead of the variants
		quantity         string
	}{
		{"nothing typed", "", "", nil, "", "Choose a product first", ""},
		{"several variants", "3 gel pen", "pen", []string{"pen-blk", "pen-blu"}, "", "", "3"},
		{"one variant", "2 notebook", "notebook", []string{"notebook-a5"}, "notebook-a5", "", "2"},
		{"nothing found", "3 staplers", "", nil, "", "Choose a product first", "3"},
	}
	e := newFormEnv(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, v := e.open(tc.typed)
			m := read(v)
			product := m.selectIn(dialog.FormProduct)
			if product == nil || product.Type != "external_select" || product.MinQueryLength == nil || *product.MinQueryLength != 1 ||
				!m.blocks[dialog.FormProduct].(*slackapi.InputBlock).DispatchAction || m.order[0] != dialog.FormProduct {
				t.Fatalf("product field = %+v in %v", product, m.order)
			}
			if got := initialValue(product); got != tc.product {
				t.Errorf("product chosen = %q, want %q", got, tc.product)
			}
			variants := m.selectIn(variantBlockID(tc.product))
			switch {
			case tc.variants == nil && (variants != nil || !strings.Contains(m.context(), tc.context)):
				t.Errorf("variants = %+v, context %q; want only %q", variants, m.context(), tc.context)
			case tc.variants != nil && (variants == nil || !slices.Equal(optionValues(variants.Options), tc.variants) || initialValue(variants) != tc.variant || m.context() != ""):
				t.Errorf("variants = %+v, context %q; want %v, %q chosen", variants, m.context(), tc.variants, tc.variant)
			}
			if m.value(dialog.FormQuantity) != tc.quantity || m.value("office") != "HQ" || m.value("floor") != "12F" || m.value("desk") != "" {
				t.Errorf("quantity %q, location %q %q %q", m.value(dialog.FormQuantity), m.value("office"), m.value("floor"), m.value("desk"))
			}
		})
	}
}

// Choosing a product updates the modal, under the view's hash, with the
// product's variants and every other field as the user left it; a choice
// made on a modal that changed since is refused by Slack and changes
// nothing; choosing another product starts its variants afresh.
func TestOrderFormChooseProduct(t *testing.T) {
	e := newFormEnv(t)
	viewID, _ := e.open("")
	raw, _ := e.fake.View(viewID)
	var opened slackapi.View
	if err := json.Unmarshal(raw, &opened); err != nil {
		t.Fatal(err)
	}
	typed := map[string]map[string]any{
		dialog.FormQuantity: {dialog.FormQuantity: slackfake.InputValue("4")},
		"office":            {"office": slackfake.InputValue("Tower B, 3F")},
		"floor":             {"floor": slackfake.InputValue("")},
		dialog.FormReason:   {dialog.FormReason: slackfake.InputValue("New team")},
	}
	stale, err := e.fake.Choose("U1", viewID, dialog.FormProduct, "pen", typed)
	if err != nil {
		t.Fatal(err)
	}
	update := e.chooseWith(stale)
	if update.Param("view_id") != viewID || update.Param("hash") != opened.Hash {
		t.Fatalf("views.update of %q with hash %q, want %q and %q", update.Param("view_id"), update.Param("hash"), viewID, opened.Hash)
	}
	m := read(e.view(update))
	variants := m.selectIn(variantBlockID("pen"))
	if variants == nil || !slices.Equal(optionValues(variants.Options), []string{"pen-blk", "pen-blu"}) || initialValue(variants) != "" || m.context() != "" {
		t.Fatalf("variants = %+v in %v", variants, m.order)
	}
	if !slices.Equal(m.order, []string{"product", "variant.pen", "quantity", "office", "floor", "desk", "name", "phone", "cost_centre", "reason"}) {
		t.Errorf("blocks = %v", m.order)
	}
	if initialValue(m.selectIn(dialog.FormProduct)) != "pen" || m.value(dialog.FormQuantity) != "4" || m.value("office") != "Tower B, 3F" ||
		m.value("floor") != "" || m.value(dialog.FormReason) != "New team" || m.value(dialog.FormName) != "" {
		t.Errorf("the fields typed were not kept: quantity %q, office %q, reason %q", m.value(dialog.FormQuantity), m.value("office"), m.value(dialog.FormReason))
	}
	shown, _ := e.fake.View(viewID)

	// The same choice again, from the modal as it was: Slack refuses it.
	again := e.chooseWith(stale)
	if again.Param("hash") != opened.Hash {
		t.Fatalf("stale update sent with hash %q", again.Param("hash"))
	}
	if now, _ := e.fake.View(viewID); string(now) != string(shown) {
		t.Fatal("a stale update changed the modal")
	}

	// Another product, its variant chosen at once: the pen's choice is gone.
	typed[variantBlockID("pen")] = map[string]any{dialog.FormVariant: slackfake.SelectedOption("pen-blk")}
	m = read(e.view(e.choose(viewID, "notebook", typed)))
	if variants := m.selectIn(variantBlockID("notebook")); variants == nil || initialValue(variants) != "notebook-a5" || m.blocks[variantBlockID("pen")] != nil {
		t.Fatalf("after another product: %v, variants %+v", m.order, variants)
	}
}

// A submitted form's problems come back on the modal's blocks: the
// variant's on the variant select the modal shows, or on the product when
// it shows none; the location's on the office. A variant of another
// product is refused. A good form goes to the conversation once checked.
func TestOrderFormSubmit(t *testing.T) {
	e := newFormEnv(t)
	filled := func(product string, more map[string]map[string]any) map[string]map[string]any {
		v := map[string]map[string]any{
			"office": {"office": slackfake.InputValue("HQ")},
			"floor":  {"floor": slackfake.InputValue(" 12F ")},
			"desk":   {"desk": slackfake.InputValue("12-041")},
		}
		if product != "" {
			v[dialog.FormProduct] = map[string]any{dialog.FormProduct: slackfake.SelectedOption(product)}
		}
		for k, m := range more {
			v[k] = m
		}
		return v
	}
	variant := func(product, sku string) map[string]map[string]any {
		return map[string]map[string]any{variantBlockID(product): {dialog.FormVariant: slackfake.SelectedOption(sku)}}
	}
	unchosen, _ := e.open("")
	pens, _ := e.open("3 gel pen")
	tests := []struct {
		name   string
		viewID string
		values map[string]map[string]any
		want   map[string]string // block → error, substring
	}{
		{"no product", unchosen, filled("", nil), map[string]string{"product": "choose a product"}},
		{"no variant shown", unchosen, filled("pen", nil), map[string]string{"product": "option of this product"}},
		{"no variant chosen", pens, filled("pen", nil), map[string]string{"variant.pen": "option of this product"}},
		{"another product's variant", pens, filled("notebook", variant("pen", "pen-blk")), map[string]string{"variant.pen": "option of this product"}},
		{"no location", pens, map[string]map[string]any{dialog.FormProduct: {dialog.FormProduct: slackfake.SelectedOption("pen")}, "variant.pen": variant("pen", "pen-blu")["variant.pen"]},
			map[string]string{"office": "Where"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, errs := e.submit(tc.viewID, tc.values)
			if code != http.StatusOK || len(errs) != len(tc.want) {
				t.Fatalf("answered %d %v, want %v", code, errs, tc.want)
			}
			for block, want := range tc.want {
				if !strings.Contains(errs[block], want) {
					t.Errorf("error on %s = %q, want %q", block, errs[block], want)
				}
			}
		})
	}
	if got := e.hub.messages(); len(got) != 0 {
		t.Fatalf("refused forms reached the conversation: %+v", got)
	}

	code, errs := e.submit(pens, filled("pen", variant("pen", "pen-blu")))
	got := e.hub.messages()
	if code != http.StatusOK || errs != nil || len(got) != 1 || got[0].Form == nil || got[0].ID != "view:"+pens {
		t.Fatalf("a good form answered %d %v; conversation got %+v", code, errs, got)
	}
	want := dialog.OrderForm{ProductSKU: "pen", VariantSKU: "pen-blu", Location: "HQ, 12F, 12-041"}
	if f := *got[0].Form; f != want || got[0].Key != (dialog.Key{Channel: Channel, Chat: "DU1", User: "U1"}) {
		t.Fatalf("form %+v for %v, want %+v", f, got[0].Key, want)
	}
}

// The check's problems land on the modal's blocks; a field's own problem
// wins over one moved onto its block.
func TestFieldErrors(t *testing.T) {
	withVariants := orderModal("en", orderForm{product: option(shopProducts[0]), variants: shopVariants["pen"]})
	view := func(m slackapi.ModalViewRequest) slackapi.View { return slackapi.View{Blocks: m.Blocks} }
	tests := []struct {
		name     string
		view     slackapi.View
		problems map[string]string
		want     map[string]string
	}{
		{"location on the office", view(withVariants), map[string]string{dialog.FormLocation: "where", dialog.FormPhone: "phone"}, map[string]string{"office": "where", dialog.FormPhone: "phone"}},
		{"variant on its select", view(withVariants), map[string]string{dialog.FormVariant: "option"}, map[string]string{"variant.pen": "option"}},
		{"variant on the product", view(orderModal("en", orderForm{})), map[string]string{dialog.FormVariant: "option"}, map[string]string{dialog.FormProduct: "option"}},
		{"the product's own first", view(orderModal("en", orderForm{})), map[string]string{dialog.FormVariant: "option", dialog.FormProduct: "product"}, map[string]string{dialog.FormProduct: "product"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := fieldErrors(tc.view, tc.problems); !maps.Equal(got, tc.want) {
				t.Errorf("errors = %v, want %v", got, tc.want)
			}
		})
	}
}

// Whatever a block action or a submission from the order modal carries,
// reading it neither panics nor makes a modal Slack would refuse: values
// are read from the modal's own blocks, errors land on its blocks, and a
// product chosen makes option labels of at most 75 characters.
func FuzzOrderFormPayload(f *testing.F) {
	fake := slackfake.NewServer(f)
	api := slackapi.New("xoxb-fuzz", slackapi.OptionAPIURL(fake.URL()))
	form := orderForm{f: dialog.OrderForm{Quantity: "2"}, product: option(shopProducts[0]), variants: shopVariants["pen"]}
	opened, err := api.OpenView("trig", orderModal("en", form))
	if err != nil {
		f.Fatal(err)
	}
	typed := map[string]map[string]any{"office": {"office": slackfake.InputValue(" HQ ")}, "desk": {"desk": slackfake.InputValue("12-041")}}
	chose, _ := fake.Choose("U1", opened.ID, dialog.FormProduct, "notebook", typed)
	typed["variant.pen"] = map[string]any{dialog.FormVariant: slackfake.SelectedOption("pen-blk")}
	submitted, _ := fake.Submit("U1", opened.ID, typed)
	for _, body := range [][]byte{chose, submitted} {
		q, _ := url.ParseQuery(string(body))
		f.Add([]byte(q.Get("payload")))
	}
	f.Add([]byte(`{"type":"block_actions","view":{"callback_id":"order","blocks":[{"type":"input","block_id":"location","element":{"type":"static_select","action_id":"variant"}}]},"actions":[{"action_id":"product","selected_option":{"value":"x","text":{"type":"plain_text","text":"` + strings.Repeat("長", 80) + `"}}}]}`))
	f.Add([]byte(`{"type":"view_submission","view":{"state":null}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var cb slackapi.InteractionCallback
		if json.Unmarshal(payload, &cb) != nil {
			return
		}
		got, _ := readOrderForm(cb.View)
		shown := shownVariantBlock(cb.View)
		if got.VariantSKU != "" && shown == "" {
			t.Fatalf("a variant %q read from no variant select", got.VariantSKU)
		}
		if got.Location != strings.TrimSpace(got.Location) || strings.Contains(got.Location, ", ,") || strings.HasPrefix(got.Location, ",") {
			t.Fatalf("location %q", got.Location)
		}
		blocks := map[string]bool{dialog.FormProduct: true, shown: shown != ""}
		for _, field := range []string{dialog.FormQuantity, dialog.FormName, dialog.FormPhone, dialog.FormCostCentre, dialog.FormReason} {
			blocks[field] = true
		}
		for _, part := range locationParts {
			blocks[part] = true
		}
		problems := map[string]string{}
		for _, field := range []string{dialog.FormProduct, dialog.FormVariant, dialog.FormQuantity, dialog.FormLocation, dialog.FormName, dialog.FormPhone, dialog.FormCostCentre, dialog.FormReason} {
			problems[field] = "wrong " + field
		}
		for block := range fieldErrors(cb.View, problems) {
			if !blocks[block] {
				t.Fatalf("an error on %q, not a block of the modal", block)
			}
		}
		chosen, ok := productChoice(cb)
		if !ok {
			return
		}
		chosen.variants = shopVariants["pen"]
		view := orderModal("zh", chosen)
		if _, err := json.Marshal(view); err != nil {
			t.Fatal(err)
		}
		product := view.Blocks.BlockSet[0].(*slackapi.InputBlock).Element.(*slackapi.SelectBlockElement).InitialOption
		if product.Value != chosen.f.ProductSKU || utf8.RuneCountInString(product.Text.Text) > 75 || len(product.Value) > 150 {
			t.Fatalf("product option %+v", product)
		}
	})
}
