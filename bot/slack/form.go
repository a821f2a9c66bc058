package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"orderbot/dialog"
	"orderbot/orders"
)

// Forms is the order form behind /order (dialog.Engine implements it):
// the type-ahead over the catalog, the defaults, and the check of a
// submitted form.
type Forms interface {
	FormOptions(ctx context.Context, key dialog.Key, query string) ([]dialog.Button, error)
	FormDefaults(ctx context.Context, key dialog.Key) (dialog.OrderForm, error)
	CheckForm(ctx context.Context, key dialog.Key, f *dialog.OrderForm) (map[string]string, error)
}

var _ Forms = (*dialog.Engine)(nil)

// orderCallback names the /order modal.
const orderCallback = "order"

// locationParts are the form's fields for where to deliver.
var locationParts = []string{"office", "floor", "desk"}

// CommandsHandler serves the slash commands' request URL
// (/slack/commands): /order opens the order form, filled with what the
// employee gave last time and, for "/order 3 gel pens", the item and
// quantity typed. The modal must open within the trigger's 3 seconds, so
// it is opened before the request is answered.
func (b *Bot) CommandsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := b.readSigned(w, r)
		if !ok {
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil || form.Get("user_id") == "" || form.Get("trigger_id") == "" {
			http.Error(w, "malformed command", http.StatusBadRequest)
			return
		}
		answer(w, http.StatusOK, b.command(r.Context(), form.Get("user_id"), form.Get("trigger_id"), form.Get("command"), form.Get("text")))
	})
}

// command runs a slash command and returns what to answer Slack with (nil:
// nothing to say).
func (b *Bot) command(ctx context.Context, user, trigger, command, typed string) any {
	ctx, cancel := context.WithTimeout(ctx, ackBudget)
	defer cancel()
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

// openOrderForm opens the /order modal, pre-filled.
func (b *Bot) openOrderForm(ctx context.Context, user, lang, trigger, typed string) error {
	key := dialog.Key{Channel: Channel, Chat: b.dmChannel(ctx, user), User: user}
	f, err := b.cfg.Forms.FormDefaults(ctx, key)
	if err != nil {
		return err
	}
	if f.Name == "" {
		f.Name = b.person(ctx, user).Name
	}
	var item *slackapi.OptionBlockObject
	if query, qty := splitTyped(typed); query != "" {
		f.Quantity = qty
		if opts, err := b.cfg.Forms.FormOptions(ctx, key, query); err == nil && len(opts) > 0 {
			item = option(opts[0])
		}
	}
	view := orderModal(lang, f, item)
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

// orderModal is the /order form: the item (a type-ahead over the catalog),
// the quantity, where to deliver, the contact, the cost centre and the
// reason.
func orderModal(lang string, f dialog.OrderForm, item *slackapi.OptionBlockObject) slackapi.ModalViewRequest {
	plain := func(s string) *slackapi.TextBlockObject {
		return slackapi.NewTextBlockObject(slackapi.PlainTextType, s, false, false)
	}
	input := func(field, value string, multiline bool) *slackapi.InputBlock {
		el := slackapi.NewPlainTextInputBlockElement(nil, field)
		el.InitialValue, el.Multiline = value, multiline
		return slackapi.NewInputBlock(field, plain(text(lang, "form_"+field)), nil, el)
	}
	sel := slackapi.NewOptionsSelectBlockElement(slackapi.OptTypeExternal, plain(text(lang, "form_item_hint")), dialog.FormItem)
	minQuery := 1
	sel.MinQueryLength = &minQuery
	sel.InitialOption = item
	reason := input(dialog.FormReason, f.Reason, true)
	reason.Optional = true
	// Where to deliver, in three fields; what was given last time fills them.
	parts := append(strings.SplitN(f.Location, ", ", len(locationParts)), "", "", "")
	office := input(locationParts[0], parts[0], false)
	floor, desk := input(locationParts[1], parts[1], false), input(locationParts[2], parts[2], false)
	floor.Optional, desk.Optional = true, true
	return slackapi.ModalViewRequest{
		Type:       slackapi.VTModal,
		CallbackID: orderCallback,
		Title:      plain(text(lang, "form_title")),
		Submit:     plain(text(lang, "form_submit")),
		Close:      plain(text(lang, "form_close")),
		Blocks: slackapi.Blocks{BlockSet: []slackapi.Block{
			slackapi.NewInputBlock(dialog.FormItem, plain(text(lang, "form_item")), nil, sel),
			input(dialog.FormQuantity, f.Quantity, false),
			office, floor, desk,
			input(dialog.FormName, f.Name, false),
			input(dialog.FormPhone, f.Phone, false),
			input(dialog.FormCostCentre, f.CostCentre, false),
			reason,
		}},
	}
}

// suggest answers the item type-ahead (block_suggestion) with matching
// items.
func (b *Bot) suggest(ctx context.Context, cb slackapi.InteractionCallback) any {
	opts := []*slackapi.OptionBlockObject{}
	if b.cfg.Forms != nil && cb.ActionID == dialog.FormItem {
		key := dialog.Key{Channel: Channel, Chat: b.dmChannel(ctx, cb.User.ID), User: cb.User.ID}
		found, err := b.cfg.Forms.FormOptions(ctx, key, cb.Value)
		if err != nil {
			b.log.Warn("item type-ahead failed", "err", err)
		}
		for _, o := range found {
			opts = append(opts, option(o))
		}
	}
	return slackapi.OptionsResponse{Options: opts}
}

// submitOrderForm checks a submitted /order form: field errors go back
// into the modal; a valid form closes it and goes to the conversation,
// which places the order and answers in the direct message.
func (b *Bot) submitOrderForm(ctx context.Context, cb slackapi.InteractionCallback) (int, any) {
	values := cb.View.State.Values
	get := func(field string) string {
		a := values[field][field]
		if a.SelectedOption.Value != "" {
			return a.SelectedOption.Value
		}
		return a.Value
	}
	var where []string
	for _, part := range locationParts {
		if v := strings.TrimSpace(get(part)); v != "" {
			where = append(where, v)
		}
	}
	f := dialog.OrderForm{
		VariantSKU: get(dialog.FormItem), Quantity: get(dialog.FormQuantity), Location: strings.Join(where, ", "),
		Name: get(dialog.FormName), Phone: get(dialog.FormPhone), CostCentre: get(dialog.FormCostCentre), Reason: get(dialog.FormReason),
	}
	user := cb.User.ID
	key := dialog.Key{Channel: Channel, Chat: b.dmChannel(ctx, user), User: user}
	if key.Chat == "" || b.cfg.Forms == nil {
		return http.StatusServiceUnavailable, nil
	}
	problems, err := b.cfg.Forms.CheckForm(ctx, key, &f)
	if err != nil {
		b.log.Error("order form not checked", "err", err)
		return http.StatusInternalServerError, nil
	}
	if len(problems) > 0 {
		if msg, ok := problems[dialog.FormLocation]; ok {
			delete(problems, dialog.FormLocation)
			problems[locationParts[0]] = msg // the form asks for the place in three fields
		}
		return http.StatusOK, slackapi.NewErrorsViewSubmissionResponse(problems)
	}
	in := dialog.Inbound{
		ID:   "view:" + cb.View.ID,
		Key:  key,
		Form: &f,
		Lang: b.person(ctx, user).Locale,
		At:   b.cfg.Now(),
	}
	return b.submit(in, delivery{channel: key.Chat}), nil // no payload: the modal closes
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
// conversation, which records it through the order core.
func (b *Bot) submitRejectForm(ctx context.Context, cb slackapi.InteractionCallback) (int, any) {
	reason := strings.TrimSpace(cb.View.State.Values[reasonField][reasonField].Value)
	action := cb.View.PrivateMetadata
	lang := b.person(ctx, cb.User.ID).Locale
	if reason == "" || utf8.RuneCountInString(reason) > orders.MaxNoteLen || !strings.HasPrefix(action, rejectPrefix) {
		return http.StatusOK, slackapi.NewErrorsViewSubmissionResponse(map[string]string{reasonField: text(lang, "reject_reason")})
	}
	key := dialog.Key{Channel: Channel, Chat: b.dmChannel(ctx, cb.User.ID), User: cb.User.ID}
	if key.Chat == "" {
		return http.StatusServiceUnavailable, nil
	}
	in := dialog.Inbound{ID: "view:" + cb.View.ID, Key: key, Action: action, Text: reason, Lang: lang, At: b.cfg.Now()}
	return b.submit(in, delivery{channel: key.Chat}), nil
}
