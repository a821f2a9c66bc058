package telegram

import (
	"unicode"

	"orderbot/dialog"
)

// texts are the few sentences the adapter says on its own, outside the
// conversation: hints about Telegram's special buttons, group chats and
// messages it cannot read. Everything else comes from the dialog.
var texts = map[string]struct{ en, zh string }{
	"group_hint": {
		"I take orders in a private chat, so that your address and phone number stay between us. Tap the button to continue there.",
		"为保护您的地址和电话，我只在私聊中接单。请点击下方按钮，在私聊中继续。",
	},
	"group_button":   {"💬 Continue in private", "💬 私聊下单"},
	"group_callback": {"Please continue in a private chat with me.", "请在私聊中继续。"},
	"unsupported": {
		"I can only read text, buttons, contacts and locations. Please type your answer or use the buttons.",
		"我只能读取文字、按钮、联系人和位置。请输入文字或点击按钮。",
	},
	"location_hint":   {"Tap “📍 Send my location” below, or type the address.", "点击下方“📍 发送我的位置”，或直接输入地址。"},
	"location_button": {"📍 Send my location", "📍 发送我的位置"},
	"contact_hint":    {"Tap “📱 Share my phone number” below, or type the number.", "点击下方“📱 发送我的手机号”，或直接输入号码。"},
	"contact_button":  {"📱 Share my phone number", "📱 发送我的手机号"},
	"busy":            {"I'm busy right now. Please try again in a moment.", "当前繁忙，请稍后再试。"},
	"error_short":     {"Something went wrong. Please try again.", "出了点问题，请重试。"},
	"no_payments":     {"Online payment is not available.", "暂不支持在线支付。"},
	"pay_check_failed": {
		"We could not check your order just now, so nothing was charged. Please try again in a moment.",
		"暂时无法核对您的订单，本次未扣款。请稍后再试。",
	},
	"invoice_failed": {
		"The payment form could not be opened just now. Your order is kept: tap “💳 Pay” on it to try again.",
		"暂时无法打开支付页面。订单已保留：请在订单中点击“💳 支付”重试。",
	},
	"cmd_start":  {"Main menu", "主菜单"},
	"cmd_cart":   {"Your cart", "购物车"},
	"cmd_orders": {"Your orders", "我的订单"},
	"cmd_help":   {"Help and questions", "帮助与常见问题"},
	"cmd_lang":   {"中文 / English", "English / 中文"},
}

// text returns an adapter sentence in the language of a locale ("zh-hans",
// "en", "").
func text(locale, key string) string {
	t, ok := texts[key]
	if !ok {
		return key
	}
	if dialog.NormalizeLang(locale) == "zh" {
		return t.zh
	}
	return t.en
}

// langOf guesses the language of a text the dialog wrote: the session's
// language may differ from the Telegram client's after the user switched, and
// hints shown next to a step should match the step.
func langOf(s, fallback string) string {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return "zh"
		}
	}
	if s != "" {
		return "en"
	}
	return dialog.NormalizeLang(fallback)
}
