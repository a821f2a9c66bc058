package slack

import "orderbot/dialog"

// texts are the few sentences the adapter says on its own, outside the
// conversation.
var texts = map[string]struct{ en, zh string }{
	"unknown_command":  {"That command is not known here. Try /order, or message me directly.", "此处不支持该命令。请使用 /order，或直接私信我。"},
	"form_failed":      {"The order form could not be opened just now; please try again, or message me directly.", "暂时无法打开下单表单，请重试，或直接私信我。"},
	"form_title":       {"Order supplies", "订购办公用品"},
	"form_submit":      {"Place order", "提交订单"},
	"form_close":       {"Cancel", "取消"},
	"form_item":        {"Product", "商品"},
	"form_item_hint":   {"Type to search the catalog", "输入关键词搜索商品"},
	"form_quantity":    {"Quantity", "数量"},
	"form_office":      {"Office (where to deliver)", "办公室（送货地点）"},
	"form_floor":       {"Floor", "楼层"},
	"form_desk":        {"Desk", "工位"},
	"form_name":        {"Contact name", "联系人"},
	"form_phone":       {"Phone", "电话"},
	"form_cost_centre": {"Cost centre", "成本中心"},
	"reject_title":     {"Reject the order", "驳回订单"},
	"reject_submit":    {"Reject", "驳回"},
	"reject_reason":    {"Why? The requester will see this.", "原因（申请人会看到）"},
	"form_reason":      {"Reason (optional)", "用途（可选）"},
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
