package slack

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"orderbot/dialog"
	"orderbot/orders"
)

// Forms is the order form behind /order (dialog.Engine implements it):
// the type-ahead over the catalog, the chosen product's variants, the
// defaults, and the check of a submitted form.
type Forms interface {
	FormProducts(ctx context.Context, key dialog.Key, query string) ([]dialog.Button, error)
	FormVariants(ctx context.Context, key dialog.Key, productSKU string) ([]dialog.Button, error)
	FormDefaults(ctx context.Context, key dialog.Key) (dialog.OrderForm, error)
	CheckForm(ctx context.Context, key dialog.Key, f *dialog.OrderForm) (map[string]string, error)
}

var _ Forms = (*dialog.Engine)(nil)

// orderCallback names the /order modal.
const orderCallback = "order"

// locationParts are the form's fields for where to deliver.
var locationParts = [3]string{"office", "floor", "desk"}

// CommandsHandler serves the slash commands' request URL
// (/slack/commands): /order opens the order form, filled with what the
// employee gave last time and, for "/order 3 gel pens", the product and
// quantity typed. The modal must open within the trigger's 3 seconds, so
// it is opened before the request is answered, within Config.AckWithin
// of its arrival. A command gives the hub nothing (the form's submission
// does), so there is nothing else to wait for.
func (b *Bot) CommandsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := b.ackContext(r.Context())
		defer cancel()
		body, ok := b.readSigned(w, r)
		if !ok {
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil || form.Get("user_id") == "" || form.Get("trigger_id") == "" {
			http.Error(w, "malformed command", http.StatusBadRequest)
			return
		}
		answer(w, http.StatusOK, b.command(ctx, form.Get("user_id"), form.Get("trigger_id"), form.Get("command"), form.Get("text")))
	})
}

// command runs a slash command and returns what to answer Slack with (nil:
// nothing to say). ctx bounds it to the answer's budget.
func (b *Bot) command(ctx context.Context, user, trigger, command, typed string) any {
	lang := b.person(ctx, user).Locale
	if command != "/order" || b.cfg.Forms == nil {
		return ephemeral(text(lang, "unknown_command"))
	}
	if err := b.openOrderForm(ctx, user, lang, trigger, typed); err != nil {
		b.log.Warn("order form not opened", "method", "views.open", "err", err)
		return ephemeral(text(lang, "form_failed"))
	}
	return nil
}

// answer writes an HTTP answer to Slack: the status, and the payload as
// JSON when there is one.
func answer(w http.ResponseWriter, status int, payload any) {
	if payload == nil || status != http.StatusOK {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(payload)
}

// ephemeral answers a slash command with a message only its user sees.
func ephemeral(msg string) any {
	return map[string]string{"response_type": "ephemeral", "text": msg}
}

// formKey is the conversation a user's order form belongs to: their
// direct message with the app, where the order is then told.
func (b *Bot) formKey(ctx context.Context, user string) dialog.Key {
	return dialog.Key{Channel: Channel, Chat: b.dmChannel(ctx, user), User: user}
}

// orderForm is what the /order modal shows.
type orderForm struct {
	f        dialog.OrderForm
	where    [3]string                   // the location's parts: office, floor, desk
	product  *slackapi.OptionBlockObject // the product chosen; nil before
	variants []dialog.Button             // the product's variants in stock
}

// openOrderForm opens the /order modal, pre-filled.
func (b *Bot) openOrderForm(ctx context.Context, user, lang, trigger, typed string) error {
	key := b.formKey(ctx, user)
	f, err := b.cfg.Forms.FormDefaults(ctx, key)
	if err != nil {
		return err
	}
	if f.Name == "" {
		f.Name = b.person(ctx, user).Name
	}
	form := orderForm{f: f}
	copy(form.where[:], strings.SplitN(f.Location, ", ", len(locationParts)))
	if query, qty := splitTyped(typed); query != "" {
		form.f.Quantity = qty
		found, err := b.cfg.Forms.FormProducts(ctx, key, query)
		if err == nil && len(found) > 0 {
			form.product = option(found[0])
			form.variants, err = b.cfg.Forms.FormVariants(ctx, key, found[0].Action)
		}
		if err != nil {
			b.log.Warn("order form not pre-filled", "err", err)
			form.product = nil // chosen in the form instead
		}
	}
	view := orderModal(lang, form)
	return b.call(ctx, "views.open", retryPolicy{attempts: 1}, func(ctx context.Context) error {
		_, err := b.api.OpenViewContext(ctx, trigger, view)
		return err
	})
}

// splitTyped reads "/order 3 gel pens" as the query "gel pens" and the
// quantity "3".
func splitTyped(s string) (query, quantity string) {
	fields := strings.Fields(s)
	if len(fields) > 1 {
		if _, ok := dialog.ParseQuantity(fields[0]); ok {
			return strings.Join(fields[1:], " "), fields[0]
		}
	}
	return strings.Join(fields, " "), ""
}

func option(b dialog.Button) *slackapi.OptionBlockObject {
	return slackapi.NewOptionBlockObject(b.Action, slackapi.NewTextBlockObject(slackapi.PlainTextType, truncate(b.Label, 75), false, false), nil)
}

// variantBlockID is the block_id of the variant select for a product. It
// changes with the product, so that Slack, which keeps what was chosen in
// a block across views.update, starts the new product's select afresh;
// every other block_id stays, and with it what the user typed.
func variantBlockID(productSKU string) string { return dialog.FormVariant + "." + productSKU }

// orderModal is the /order form: the product (a type-ahead over the
// catalog, whose choice comes back as a block action), the product's
// variant, the quantity, where to deliver, the contact, the cost centre
// and the reason.
func orderModal(lang string, form orderForm) slackapi.ModalViewRequest {
	plain := func(s string) *slackapi.TextBlockObject {
		return slackapi.NewTextBlockObject(slackapi.PlainTextType, s, false, false)
	}
	input := func(field, value string, multiline bool) *slackapi.InputBlock {
		el := slackapi.NewPlainTextInputBlockElement(nil, field)
		el.InitialValue, el.Multiline = value, multiline
		return slackapi.NewInputBlock(field, plain(text(lang, "form_"+field)), nil, el)
	}
	f := form.f
	product := slackapi.NewOptionsSelectBlockElement(slackapi.OptTypeExternal, plain(text(lang, "form_item_hint")), dialog.FormProduct)
	minQuery := 1
	product.MinQueryLength = &minQuery
	product.InitialOption = form.product
	reason := input(dialog.FormReason, f.Reason, true)
	reason.Optional = true
	office := input(locationParts[0], form.where[0], false)
	floor, desk := input(locationParts[1], form.where[1], false), input(locationParts[2], form.where[2], false)
	floor.Optional, desk.Optional = true, true
	return slackapi.ModalViewRequest{
		Type:       slackapi.VTModal,
		CallbackID: orderCallback,
		Title:      plain(text(lang, "form_title")),
		Submit:     plain(text(lang, "form_submit")),
		Close:      plain(text(lang, "form_close")),
		Blocks: slackapi.Blocks{BlockSet: []slackapi.Block{
			slackapi.NewInputBlock(dialog.FormProduct, plain(text(lang, "form_item")), nil, product).WithDispatchAction(true),
			variantField(lang, form),
			input(dialog.FormQuantity, f.Quantity, false),
			office, floor, desk,
			input(dialog.FormName, f.Name, false),
			input(dialog.FormPhone, f.Phone, false),
			input(dialog.FormCostCentre, f.CostCentre, false),
			reason,
		}},
	}
}

// variantField is the form's variant field: the chosen product's
// variants in stock, the one given or the only one chosen; before a
// product is chosen, or when it has nothing in stock, a line saying so.
func variantField(lang string, form orderForm) slackapi.Block {
	say := func(key string) slackapi.Block {
		return slackapi.NewContextBlock("", slackapi.NewTextBlockObject(slackapi.PlainTextType, dialogText(lang, key), false, false))
	}
	switch {
	case form.product == nil:
		return say("form_product_first")
	case len(form.variants) == 0:
		return say("form_sold_out")
	}
	var opts []*slackapi.OptionBlockObject
	var chosen *slackapi.OptionBlockObject
	for _, v := range form.variants {
		o := option(v)
		opts = append(opts, o)
		if v.Action == form.f.VariantSKU || len(form.variants) == 1 {
			chosen = o
		}
	}
	hint := slackapi.NewTextBlockObject(slackapi.PlainTextType, dialogText(lang, "form_variant_hint"), false, false)
	sel := slackapi.NewOptionsSelectBlockElement(slackapi.OptTypeStatic, hint, dialog.FormVariant, opts...)
	sel.InitialOption = chosen
	label := slackapi.NewTextBlockObject(slackapi.PlainTextType, dialogText(lang, "form_variant_label"), false, false)
	return slackapi.NewInputBlock(variantBlockID(form.product.Value), label, nil, sel)
}

// dialogText is one of the form's texts that the conversation keeps.
func dialogText(lang, key string) string { return dialog.T(dialog.NormalizeLang(lang), key) }

// shownVariantBlock is the block_id of a modal's variant select, "" when it
// shows none.
func shownVariantBlock(v slackapi.View) string {
	for _, bl := range v.Blocks.BlockSet {
		in, ok := bl.(*slackapi.InputBlock)
		if !ok {
			continue
		}
		if sel, ok := in.Element.(*slackapi.SelectBlockElement); ok && sel.ActionID == dialog.FormVariant {
			return in.BlockID
		}
	}
	return ""
}

// readOrderForm reads what a modal's fields hold: the form, and the
// location's parts as typed. The variant is the one of the variant select
// the modal shows, whichever product that was for.
func readOrderForm(v slackapi.View) (dialog.OrderForm, [3]string) {
	var values map[string]map[string]slackapi.BlockAction
	if v.State != nil {
		values = v.State.Values
	}
	get := func(block, action string) string {
		a := values[block][action]
		if a.SelectedOption.Value != "" {
			return a.SelectedOption.Value
		}
		return a.Value
	}
	field := func(name string) string { return get(name, name) }
	var where [3]string
	var parts []string
	for i, part := range locationParts {
		where[i] = field(part)
		if p := strings.TrimSpace(where[i]); p != "" {
			parts = append(parts, p)
		}
	}
	return dialog.OrderForm{
		ProductSKU: field(dialog.FormProduct),
		VariantSKU: get(shownVariantBlock(v), dialog.FormVariant),
		Quantity:   field(dialog.FormQuantity),
		Location:   strings.Join(parts, ", "),
		Name:       field(dialog.FormName),
		Phone:      field(dialog.FormPhone),
		CostCentre: field(dialog.FormCostCentre),
		Reason:     field(dialog.FormReason),
	}, where
}

// suggest answers the product type-ahead (block_suggestion) with matching
// products.
func (b *Bot) suggest(ctx context.Context, cb slackapi.InteractionCallback) any {
	opts := []*slackapi.OptionBlockObject{}
	if b.cfg.Forms != nil && cb.ActionID == dialog.FormProduct {
		found, err := b.cfg.Forms.FormProducts(ctx, b.formKey(ctx, cb.User.ID), cb.Value)
		if err != nil {
			b.log.Warn("product type-ahead failed", "err", err)
		}
		for _, o := range found {
			opts = append(opts, option(o))
		}
	}
	return slackapi.OptionsResponse{Options: opts}
}

// chooseProduct answers the choice of a product in the /order modal (a
// block action, sent because its input dispatches actions): the modal is
// rebuilt with the product's variants, before Slack is answered and
// within its 3 seconds, as a modal is opened. What the user typed stays:
// Slack keeps the blocks whose ids are unchanged, and the new view starts
// from the same values. The view's hash makes Slack refuse the update when
// the modal changed since (another choice came first); the submission's
// check then tells a variant of another product.
func (b *Bot) chooseProduct(ctx context.Context, cb slackapi.InteractionCallback) int {
	form, ok := productChoice(cb)
	if !ok || b.cfg.Forms == nil || cb.View.ID == "" || cb.User.ID == "" {
		return http.StatusOK
	}
	variants, err := b.cfg.Forms.FormVariants(ctx, b.formKey(ctx, cb.User.ID), form.product.Value)
	if err != nil {
		b.log.Warn("product's variants not listed", "err", err)
		return http.StatusOK
	}
	form.variants = variants
	view := orderModal(b.person(ctx, cb.User.ID).Locale, form)
	err = b.call(ctx, "views.update", retryPolicy{attempts: 1}, func(ctx context.Context) error {
		_, err := b.api.UpdateViewContext(ctx, view, "", cb.View.Hash, cb.View.ID)
		return err
	})
	var se slackapi.SlackErrorResponse
	switch {
	case errors.As(err, &se) && se.Err == "hash_conflict":
		b.log.Debug("order form changed since; not updated", "method", "views.update")
	case err != nil:
		b.log.Warn("order form not updated", "method", "views.update", "err", err)
	}
	return http.StatusOK
}

// productChoice reads a block action in the /order modal: the form as the
// modal holds it, with the product chosen; false when no product was.
func productChoice(cb slackapi.InteractionCallback) (orderForm, bool) {
	var chosen *slackapi.OptionBlockObject
	for _, a := range cb.ActionCallback.BlockActions {
		// 150 bytes is Slack's limit for an option's value: a longer one is
		// no product of ours.
		if a != nil && a.ActionID == dialog.FormProduct && a.SelectedOption.Value != "" && len(a.SelectedOption.Value) <= 150 {
			chosen = &a.SelectedOption
		}
	}
	if chosen == nil {
		return orderForm{}, false
	}
	label := chosen.Value
	if chosen.Text != nil && strings.TrimSpace(chosen.Text.Text) != "" {
		label = chosen.Text.Text
	}
	f, where := readOrderForm(cb.View)
	f.ProductSKU = chosen.Value
	return orderForm{f: f, where: where, product: option(dialog.Button{Label: label, Action: chosen.Value})}, true
}

// submitOrderForm checks a submitted /order form: field errors go back
// into the modal at once (response_action "errors"); a valid form goes to
// the conversation, which places the order and answers in the direct
// message, and the modal closes (an empty answer) once that was done or
// the answer's budget ran out.
func (b *Bot) submitOrderForm(ctx context.Context, cb slackapi.InteractionCallback) ack {
	f, _ := readOrderForm(cb.View)
	user := cb.User.ID
	key := b.formKey(ctx, user)
	if key.Chat == "" || b.cfg.Forms == nil {
		return ackNow(http.StatusServiceUnavailable, nil)
	}
	problems, err := b.cfg.Forms.CheckForm(ctx, key, &f)
	if err != nil {
		b.log.Error("order form not checked", "err", err)
		return ackNow(http.StatusInternalServerError, nil)
	}
	if len(problems) > 0 {
		return ackNow(http.StatusOK, slackapi.NewErrorsViewSubmissionResponse(fieldErrors(cb.View, problems)))
	}
	in := dialog.Inbound{
		ID:   "view:" + cb.View.ID,
		Key:  key,
		Form: &f,
		Lang: b.person(ctx, user).Locale,
		At:   b.cfg.Now(),
	}
	return b.submit(in, delivery{channel: key.Chat}) // no payload: the modal closes
}

// fieldErrors puts the check's problems, by form field, on the modal's
// blocks: where to deliver is asked in three fields, the first takes it;
// the variant's goes on the variant select the modal shows, or, when it
// shows none (no product chosen yet, or the modal not updated), on the
// product, unless the product has one of its own.
func fieldErrors(v slackapi.View, problems map[string]string) map[string]string {
	blocks := make(map[string]string, len(problems))
	for field, msg := range problems {
		block := field
		switch field {
		case dialog.FormLocation:
			block = locationParts[0]
		case dialog.FormVariant:
			if block = shownVariantBlock(v); block == "" {
				block = dialog.FormProduct
			}
		}
		if _, own := problems[block]; own && block != field {
			continue
		}
		blocks[block] = msg
	}
	return blocks
}

// The Reject button's action starts with rejectPrefix (the dialog's
// global "reject" command); its reason is asked in a modal.
const (
	rejectPrefix   = "g:reject:"
	rejectCallback = "reject"
	reasonField    = "reason"
)

// openRejectForm asks an approver for the reason of a rejection, in a
// modal carrying the button's action.
func (b *Bot) openRejectForm(ctx context.Context, trigger, action, lang string) error {
	plain := func(s string) *slackapi.TextBlockObject {
		return slackapi.NewTextBlockObject(slackapi.PlainTextType, s, false, false)
	}
	el := slackapi.NewPlainTextInputBlockElement(nil, reasonField)
	el.Multiline, el.MaxLength = true, orders.MaxNoteLen
	view := slackapi.ModalViewRequest{
		Type:            slackapi.VTModal,
		CallbackID:      rejectCallback,
		PrivateMetadata: action,
		Title:           plain(text(lang, "reject_title")),
		Submit:          plain(text(lang, "reject_submit")),
		Close:           plain(text(lang, "form_close")),
		Blocks: slackapi.Blocks{BlockSet: []slackapi.Block{
			slackapi.NewInputBlock(reasonField, plain(text(lang, "reject_reason")), nil, el),
		}},
	}
	err := b.call(ctx, "views.open", retryPolicy{attempts: 1}, func(ctx context.Context) error {
		_, err := b.api.OpenViewContext(ctx, trigger, view)
		return err
	})
	if err != nil {
		b.log.Warn("reject form not opened; asking in the conversation", "method", "views.open", "err", err)
	}
	return err
}

// submitRejectForm hands the rejection, with its reason, to the
// conversation, which records it through the order core; the modal closes
// once that was done or the answer's budget ran out. A missing reason goes
// back into the modal at once.
func (b *Bot) submitRejectForm(ctx context.Context, cb slackapi.InteractionCallback) ack {
	reason := strings.TrimSpace(cb.View.State.Values[reasonField][reasonField].Value)
	action := cb.View.PrivateMetadata
	lang := b.person(ctx, cb.User.ID).Locale
	if reason == "" || utf8.RuneCountInString(reason) > orders.MaxNoteLen || !strings.HasPrefix(action, rejectPrefix) {
		return ackNow(http.StatusOK, slackapi.NewErrorsViewSubmissionResponse(map[string]string{reasonField: text(lang, "reject_reason")}))
	}
	key := dialog.Key{Channel: Channel, Chat: b.dmChannel(ctx, cb.User.ID), User: cb.User.ID}
	if key.Chat == "" {
		return ackNow(http.StatusServiceUnavailable, nil)
	}
	in := dialog.Inbound{ID: "view:" + cb.View.ID, Key: key, Action: action, Text: reason, Lang: lang, At: b.cfg.Now()}
	return b.submit(in, delivery{channel: key.Chat})
}
