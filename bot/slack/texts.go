package slack

import "orderbot/dialog"

// texts are the few sentences the adapter says on its own, outside the
// conversation.
var texts = map[string]struct{ en, zh string }{
	"dm_hint": {
		"I take orders in a direct message: open the app's Messages tab and say hi.",
		"请在私信中下单：打开本应用的“消息”标签页，向我打个招呼。",
	},
}

// text returns an adapter sentence in a language ("en", "zh").
func text(lang, key string) string {
	t := texts[key]
	if dialog.NormalizeLang(lang) == "zh" {
		return t.zh
	}
	return t.en
}
