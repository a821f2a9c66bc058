package telegram

import (
	"context"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"orderbot/dialog"
	"orderbot/orders"
)

// Checkout is the order side of payments (dialog.Engine implements it).
// PreCheckout makes the last check before Telegram charges a customer: can
// this order still be paid this amount; reason, for the customer, says why
// not. RecordPayment records a successful payment, once per charge id; an
// error means it was not recorded and must be tried again.
type Checkout interface {
	PreCheckout(ctx context.Context, key dialog.Key, number string, amount orders.Money) (ok bool, reason string, err error)
	RecordPayment(ctx context.Context, key dialog.Key, p dialog.PaymentEvent) error
}

var _ Checkout = (*dialog.Engine)(nil)

// Telegram cancels a payment whose pre-checkout query is not answered
// within 10 seconds: the check gets preCheckoutCheck, the answer the rest.
const (
	preCheckoutCheck  = 6 * time.Second
	preCheckoutAnswer = 9 * time.Second
	// maxCheckouts bounds the pre-checkout queries checked at once; more
	// are refused with a "busy" answer rather than queued past the limit.
	maxCheckouts = 32
)

// Telegram's limits on an invoice.
const (
	maxInvoiceTitle = 32  // characters
	maxInvoiceDesc  = 255 // characters
	maxPriceLabel   = 64  // characters; longer labels are cut
)

// answerPreCheckout checks a pre-checkout query and answers it, on its own
// goroutine: the receive loop and the adapter's other answers never wait
// on the database, and the answer leaves within Telegram's 10 seconds.
func (b *Bot) answerPreCheckout(inc incoming) {
	select {
	case b.checkouts <- struct{}{}:
	default:
		b.log.Warn("too many pre-checkout queries at once; refusing one", "method", "answerPreCheckoutQuery")
		select {
		case b.local <- func(ctx context.Context) { b.sendCheckoutAnswer(ctx, inc, false, text(inc.locale, "busy")) }:
		default: // unanswered, Telegram cancels the payment: nothing is charged
		}
		return
	}
	b.wg.Go(func() {
		defer func() { <-b.checkouts }()
		ctx, cancel := context.WithTimeout(context.Background(), preCheckoutAnswer)
		defer cancel()
		ok, reason := b.checkPayable(ctx, inc)
		b.sendCheckoutAnswer(ctx, inc, ok, reason)
	})
}

// checkPayable asks the Checkout whether the query's order can be paid.
func (b *Bot) checkPayable(ctx context.Context, inc incoming) (bool, string) {
	if b.cfg.Checkout == nil || inc.in.Key.User == "" {
		return false, text(inc.locale, "no_payments")
	}
	cctx, cancel := context.WithTimeout(ctx, preCheckoutCheck)
	defer cancel()
	ok, reason, err := b.cfg.Checkout.PreCheckout(cctx, inc.in.Key, inc.order, inc.amount)
	if err != nil {
		b.log.Error("pre-checkout check failed; payment refused", "conv", inc.in.Key.String(), "err", err)
		return false, text(inc.locale, "pay_check_failed")
	}
	if !ok && reason == "" {
		reason = text(inc.locale, "pay_check_failed")
	}
	b.log.Info("pre-checkout query answered", "conv", inc.in.Key.String(), "ok", ok)
	return ok, reason
}

// recordPayment records a successful payment before the update is
// acknowledged (polling moves past it, a webhook answers 200), so that a
// payment is never lost with its update. false means it was not recorded:
// the update must be taken again.
func (b *Bot) recordPayment(ctx context.Context, inc incoming) bool {
	if inc.in.Payment == nil || b.cfg.Checkout == nil {
		return true // the conversation records it
	}
	rctx, cancel := context.WithTimeout(ctx, b.cfg.RequestTimeout)
	defer cancel()
	if err := b.cfg.Checkout.RecordPayment(rctx, inc.in.Key, *inc.in.Payment); err != nil {
		b.log.Error("payment not recorded; will take the update again", "conv", inc.in.Key.String(), "err", err)
		return false
	}
	return true
}

// sendCheckoutAnswer answers the query. The library leaves ok out when it
// is false, so the call is made raw.
func (b *Bot) sendCheckoutAnswer(ctx context.Context, inc incoming, ok bool, reason string) {
	params := tgbotapi.Params{"pre_checkout_query_id": inc.queryID, "ok": strconv.FormatBool(ok)}
	if !ok {
		params["error_message"] = reason
	}
	_, err := b.retry(ctx, "answerPreCheckoutQuery", replyRetry, func(ctx context.Context) (json.RawMessage, error) {
		return b.raw(ctx, "answerPreCheckoutQuery", params)
	})
	if err != nil {
		b.log.Warn("pre-checkout query not answered", "method", "answerPreCheckoutQuery", "err", err)
	}
}

// sendInvoice sends an invoice for an order: priced lines in the order's
// currency through the payment provider, or one price in Telegram Stars
// (XTR), which need no provider. The payload is the order number; it comes
// back in the pre-checkout query and the successful payment.
func (b *Bot) sendInvoice(ctx context.Context, chat int64, inv *dialog.Invoice, p retryPolicy) error {
	params, err := b.invoiceParams(chat, inv)
	if err != nil {
		return err
	}
	_, err = b.retry(ctx, "sendInvoice", p, func(ctx context.Context) (json.RawMessage, error) {
		return b.raw(ctx, "sendInvoice", params)
	})
	return err
}

func (b *Bot) invoiceParams(chat int64, inv *dialog.Invoice) (tgbotapi.Params, error) {
	title := cut(clean(inv.Title), maxInvoiceTitle)
	stars := inv.Total.Currency == orders.CurrencyStars
	var prices []tgbotapi.LabeledPrice
	if !stars {
		var sum int64
		for _, l := range inv.Lines {
			prices = append(prices, tgbotapi.LabeledPrice{Label: cut(clean(l.Label), maxPriceLabel), Amount: int(l.Amount.Amount)})
			sum += l.Amount.Amount
		}
		if sum != inv.Total.Amount {
			prices = nil // lines that do not add up: one price for the whole
		}
	}
	if len(prices) == 0 {
		// Stars invoices take exactly one price.
		prices = []tgbotapi.LabeledPrice{{Label: title, Amount: int(inv.Total.Amount)}}
	}
	encoded, err := json.Marshal(prices)
	if err != nil {
		return nil, err
	}
	params := tgbotapi.Params{
		"chat_id":     strconv.FormatInt(chat, 10),
		"title":       title,
		"description": cut(clean(inv.Description), maxInvoiceDesc),
		"payload":     inv.OrderNumber,
		"currency":    inv.Total.Currency,
		"prices":      string(encoded),
	}
	if stars {
		params["provider_token"] = "" // Stars go to the bot, with no provider
	} else {
		params["provider_token"] = b.cfg.ProviderToken
	}
	return params, nil
}

// cut shortens s to at most n characters.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
