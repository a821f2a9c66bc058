package dialog

import (
	"fmt"
	"strings"
)

// Languages the bot speaks. Every text exists in each of them.
var Languages = []string{"en", "zh"}

// NormalizeLang maps a channel's locale ("zh-CN", "zh-hans", "en-US") to a
// language the bot speaks; anything unknown is English.
func NormalizeLang(locale string) string {
	l := strings.ToLower(strings.TrimSpace(locale))
	if strings.HasPrefix(l, "zh") {
		return "zh"
	}
	return "en"
}

type msg struct{ en, zh string }

// texts holds every sentence the bot says. Keys are stable; tests check that
// every key exists in both languages with the same placeholders.
var texts = map[string]msg{
	"welcome":      {"Welcome to the shop! What would you like to do?", "欢迎光临！请问需要什么？"},
	"welcome_back": {"Welcome back! Here is where we left off.", "欢迎回来！我们从上次的地方继续。"},
	"menu":         {"Main menu. What would you like to do?", "主菜单。请问需要什么？"},
	"btn_browse":   {"🛍 Browse products", "🛍 浏览商品"},
	"btn_cart":     {"🛒 Cart", "🛒 购物车"},
	"btn_cart_n":   {"🛒 Cart (%d)", "🛒 购物车（%d）"},
	"btn_orders":   {"📦 My orders", "📦 我的订单"},
	"btn_help":     {"❓ Help", "❓ 帮助"},
	"btn_lang":     {"🌐 中文", "🌐 English"},
	"btn_back":     {"⬅ Back", "⬅ 返回"},
	"btn_menu":     {"🏠 Menu", "🏠 主菜单"},
	"btn_prev":     {"◀ Previous", "◀ 上一页"},
	"btn_next":     {"Next ▶", "下一页 ▶"},

	"categories":     {"Choose a category:", "请选择分类："},
	"no_categories":  {"The shop has no products right now. Please come back later.", "店铺暂时没有商品，请稍后再来。"},
	"products":       {"%s — page %d of %d. Choose a product:", "%s — 第 %d/%d 页。请选择商品："},
	"search_results": {"Products matching “%s” — page %d of %d:", "与“%s”相关的商品 — 第 %d/%d 页："},
	"no_results":     {"I found no product matching “%s”. Browse the categories, or type another name.", "没有找到与“%s”相关的商品。可以浏览分类，或换个名称试试。"},
	"product_btn":    {"%s · from %s", "%s · %s 起"},
	"sold_out_tag":   {"%s · sold out", "%s · 已售罄"},

	"product_price":   {"Price: %s", "价格：%s"},
	"product_prices":  {"Price: %s – %s", "价格：%s – %s"},
	"product_rating":  {"Rating: %s / 5", "评分：%s / 5"},
	"product_specs":   {"Specifications:", "规格参数："},
	"choose_variant":  {"Choose an option:", "请选择款式："},
	"variant_btn":     {"%s · %s · %d left", "%s · %s · 剩 %d 件"},
	"variant_soldout": {"%s · sold out", "%s · 已售罄"},
	"digital_note":    {"Delivered electronically: no address needed.", "电子交付，无需收货地址。"},

	"ask_quantity": {"How many of %s (%s) would you like? %s each, %d in stock. Choose or type a number:", "请问 %s（%s）要几件？单价 %s，库存 %d 件。请选择或输入数量："},
	"bad_quantity": {"I didn't understand “%s” as a quantity. Please type a number such as 2.", "没能把“%s”识别为数量，请输入一个数字，例如 2。"},
	"qty_range":    {"The quantity must be between 1 and %d.", "数量必须在 1 到 %d 之间。"},
	"qty_have":     {"You already have %d of %s in your cart; you can add up to %d more.", "购物车里已有 %[2]s %[1]d 件，最多还能再加 %[3]d 件。"},
	"qty_stock":    {"Only %d left of %s. Please choose %d or fewer.", "%[2]s仅剩 %[1]d 件，请选择不超过 %[3]d 件。"},
	"variant_gone": {"Sorry, %s is sold out now. Please choose another option.", "抱歉，%s 已售罄，请选择其他款式。"},
	"product_gone": {"Sorry, that product is no longer available.", "抱歉，该商品已下架。"},
	"added":        {"Added %d × %s to your cart.", "已将 %d 件 %s 加入购物车。"},
	"cart_full":    {"Your cart can hold at most %d different items. Please check out or remove something first.", "购物车最多放 %d 种商品，请先结算或删除一些。"},

	"cart":           {"Your cart:", "您的购物车："},
	"cart_empty":     {"Your cart is empty.", "购物车是空的。"},
	"cart_line":      {"%d. %s × %d = %s", "%d. %s × %d = %s"},
	"cart_total":     {"Total: %s", "合计：%s"},
	"btn_checkout":   {"✅ Check out", "✅ 去结算"},
	"btn_shop_more":  {"🛍 Continue shopping", "🛍 继续购物"},
	"btn_clear_cart": {"🗑 Empty cart", "🗑 清空购物车"},
	"btn_edit_line":  {"✏ %d. %s", "✏ %d. %s"},
	"cart_cleared":   {"Your cart is now empty.", "购物车已清空。"},
	"ask_line_qty":   {"New quantity for %s (now %d)? Choose or type a number:", "%s 的新数量（当前 %d 件）？请选择或输入数量："},
	"btn_remove":     {"🗑 Remove", "🗑 删除"},
	"line_removed":   {"Removed %s from your cart.", "已从购物车删除 %s。"},
	"line_updated":   {"%s: quantity is now %d.", "%s：数量已改为 %d。"},
	"which_line":     {"Which line should change? Tap ✏ next to it.", "要修改哪一项？请点击对应的 ✏ 按钮。"},

	"ask_address":     {"Where should we deliver? Type the full address (street, building, city).", "请问送到哪里？请输入完整地址（街道、楼号、城市）。"},
	"btn_use":         {"Use: %s", "使用：%s"},
	"btn_location":    {"📍 Share location", "📍 发送位置"},
	"bad_address":     {"Please type a delivery address between %d and %d characters.", "请输入 %d 到 %d 个字符的收货地址。"},
	"location_addr":   {"Shared location %.5f, %.5f", "共享位置 %.5f, %.5f"},
	"ask_name":        {"Who will receive the order? Type the contact name.", "请问收件人姓名？"},
	"bad_name":        {"Please type a name of at most %d characters.", "请输入不超过 %d 个字符的姓名。"},
	"ask_phone":       {"What phone number can the courier call?", "请留下联系电话，方便配送员联系。"},
	"btn_share_phone": {"📱 Share my phone number", "📱 发送我的手机号"},
	"bad_phone":       {"“%s” is not a valid phone number. Please type it with the country code, e.g. +86 138 0013 8000.", "“%s”不是有效的电话号码，请输入完整号码，例如 +86 138 0013 8000。"},
	"not_own_contact": {"Please share your own phone number, or type it.", "请发送您本人的手机号，或直接输入。"},
	"ask_payment":     {"How would you like to pay?", "请选择付款方式："},
	"pay_telegram":    {"💳 Pay now by card", "💳 立即在线支付"},
	"pay_stars":       {"⭐ Pay in Telegram Stars", "⭐ 用 Telegram 星星支付"},
	"pay_company":     {"🏢 Company account", "🏢 公司账户"},
	"ask_cost_centre": {"Which cost centre should this order be charged to?", "此订单记入哪个成本中心？"},
	"bad_cost_centre": {"Please type the cost centre (at most %d characters).", "请输入成本中心（最多 %d 个字）。"},
	"ask_reason":      {"What is it for? A short reason helps the approver (or tap Skip).", "用途是什么？简短说明有助于审批（也可点击“跳过”）。"},
	"bad_reason":      {"Please keep the reason to %d characters.", "用途说明请不超过 %d 个字。"},
	"btn_skip":        {"⏭ Skip", "⏭ 跳过"},
	"placed_approval": {"Thank you! Your order %s (%s) is waiting for approval. I will tell you here as soon as it is decided.", "谢谢！订单 %s（%s）正在等待审批，有结果时我会在这里通知您。"},
	"placed_company":  {"Thank you! Your order %s is placed. Total %s, charged to cost centre %s. I will tell you here when its status changes.", "谢谢！订单 %s 已提交，合计 %s，记入成本中心 %s。订单状态变化时我会在这里通知您。"},
	"pay_expiring":    {"Order %s is about to expire unpaid and can no longer be paid. Please order again.", "订单 %s 即将因未付款而取消，已无法支付。请重新下单。"},
	"review_stars":    {"To pay in Telegram Stars: %s", "应付 Telegram 星星：%s"},
	"stars_changed":   {"The price of %s in Telegram Stars is now %s.", "%s 的 Telegram 星星价格已变为 %s。"},
	"stars_gone":      {"%s can no longer be paid in Telegram Stars; please choose another way to pay.", "%s 已不支持用 Telegram 星星支付，请选择其他付款方式。"},
	"btn_pay":         {"💳 Pay %s", "💳 支付 %s"},
	"placed_unpaid":   {"Thank you! Your order %s is reserved. Please pay %s with the invoice below within %d minutes; after that the order is cancelled.", "谢谢！订单 %s 已为您保留。请在 %[3]d 分钟内通过下方账单支付 %[2]s，逾期订单将自动取消。"},
	"invoice_title":   {"Order %s", "订单 %s"},
	"invoice_desc":    {"Payment for order %s: %d item(s).", "订单 %s 的付款：共 %d 件商品。"},
	"paid":            {"Payment received, thank you! Order %s is now being prepared.", "已收到付款，谢谢！订单 %s 正在备货。"},
	"paid_late":       {"We received your payment for order %s, but the order had already been cancelled. The payment will be refunded.", "已收到订单 %s 的付款，但该订单已取消，款项将原路退回。"},
	"not_payable":     {"Order %s can no longer be paid: it is %s.", "订单 %s 已无法支付：当前状态为%s。"},
	"wrong_amount":    {"This invoice is out of date; please pay with the latest one.", "此账单已过期，请使用最新的账单支付。"},
	"pay_cod":         {"💵 Pay on delivery", "💵 货到付款"},
	"bad_payment":     {"Please choose a payment method with the buttons.", "请用按钮选择付款方式。"},

	"review":             {"Please check your order:", "请确认您的订单："},
	"review_address":     {"Deliver to: %s", "收货地址：%s"},
	"review_digital":     {"Delivery: electronic", "交付方式：电子交付"},
	"review_contact":     {"Contact: %s, %s", "联系人：%s，%s"},
	"review_payment":     {"Payment: %s", "付款方式：%s"},
	"review_cost_centre": {"Cost centre: %s", "成本中心：%s"},
	"review_reason":      {"Reason: %s", "用途：%s"},
	"btn_ch_cost_centre": {"Change cost centre", "修改成本中心"},
	"btn_ch_reason":      {"Change reason", "修改用途"},
	"order_approvers":    {"Waiting for approval by: %s", "等待审批人：%s"},
	"btn_confirm":        {"✅ Confirm order", "✅ 确认下单"},
	"btn_ch_address":     {"Change address", "修改地址"},
	"btn_ch_name":        {"Change name", "修改姓名"},
	"btn_ch_phone":       {"Change phone", "修改电话"},
	"btn_ch_payment":     {"Change payment", "修改付款方式"},
	"btn_edit_cart":      {"Edit cart", "修改购物车"},
	"btn_cancel":         {"✖ Cancel", "✖ 取消"},
	"checkout_cancelled": {"Checkout cancelled. Your cart is kept.", "已取消结算，购物车已保留。"},
	"placed":             {"Thank you! Your order %s is placed. Total %s, paid on delivery. I will tell you here when its status changes.", "谢谢！订单 %s 已提交，合计 %s，货到付款。订单状态变化时我会在这里通知您。"},
	"changed_price":      {"The price of %s changed from %s to %s.", "%s 的价格已从 %s 变为 %s。"},
	"changed_soldout":    {"%s is sold out and was removed from your cart.", "%s 已售罄，已从购物车中移除。"},
	"changed_low":        {"Only %d of %s are left; your cart now has %d.", "%[2]s仅剩 %[1]d 件，购物车数量已改为 %[3]d。"},
	"changed_gone":       {"%s is no longer sold and was removed from your cart.", "%s 已下架，已从购物车中移除。"},
	"changed_check":      {"Please check your order again before confirming.", "请重新核对订单后再确认。"},

	"orders":           {"Your orders:", "您的订单："},
	"no_orders":        {"You have no orders yet.", "您还没有订单。"},
	"order_btn":        {"%s · %s · %s", "%s · %s · %s"},
	"order_title":      {"Order %s", "订单 %s"},
	"order_status":     {"Status: %s", "状态：%s"},
	"order_tracking":   {"Tracking: %s", "物流单号：%s"},
	"order_placed_at":  {"Placed: %s", "下单时间：%s"},
	"btn_cancel_order": {"✖ Cancel this order", "✖ 取消订单"},
	"btn_view_order":   {"📦 View order %s", "📦 查看订单 %s"},
	"ask_cancel":       {"Cancel order %s? Reserved items go back on sale.", "确定取消订单 %s 吗？预留的商品将重新上架。"},
	"btn_yes_cancel":   {"Yes, cancel it", "确定取消"},
	"btn_keep":         {"No, keep it", "不取消"},
	"order_cancelled":  {"Order %s is cancelled.", "订单 %s 已取消。"},
	"cannot_cancel":    {"Order %s is %s and can no longer be cancelled.", "订单 %s 当前状态为%s，无法取消。"},
	"order_not_found":  {"I couldn't find order %s.", "找不到订单 %s。"},

	"help":           {"How can I help? Choose a question, or type /menu, /cart, /orders, /back, /cancel or /lang at any time.", "需要什么帮助？请选择问题，或随时输入 /menu（菜单）、/cart（购物车）、/orders（订单）、/back（返回）、/cancel（取消）、/lang（切换语言）。"},
	"lang_set":       {"I will speak English from now on.", "好的，接下来我将使用中文。"},
	"stale":          {"This button is out of date. Here is where we are now:", "这个按钮已过期。当前步骤如下："},
	"unknown":        {"Sorry, I didn't understand that. Please use the buttons, or type /help.", "抱歉，我没有理解。请使用按钮，或输入 /help 查看帮助。"},
	"use_buttons":    {"Please choose one of the buttons below.", "请点击下方的按钮进行选择。"},
	"stuck_hint":     {"Having trouble? Type /help for answers, or /menu to start again.", "遇到问题了吗？输入 /help 查看帮助，或输入 /menu 重新开始。"},
	"error":          {"Sorry, something went wrong on our side. Please try again in a moment.", "抱歉，系统出了点问题，请稍后再试。"},
	"busy":           {"Sorry, the shop is very busy. Please try again in a moment.", "抱歉，当前访问人数较多，请稍后再试。"},
	"empty_checkout": {"Your cart is empty, so there is nothing to check out yet.", "购物车是空的，暂时无法结算。"},
	"too_long":       {"That message is too long. Please keep it under %d characters.", "消息太长了，请控制在 %d 个字符以内。"},

	"notify_pending_payment":  {"Your order %s is waiting for payment.", "您的订单 %s 等待付款。"},
	"notify_pending_shipment": {"Your order %s is confirmed and being prepared for shipment.", "您的订单 %s 已确认，正在备货。"},
	"notify_shipped":          {"Your order %s has shipped.", "您的订单 %s 已发货。"},
	"notify_shipped_tracking": {"Your order %s has shipped, tracking %s.", "您的订单 %s 已发货，物流单号 %s。"},
	"notify_completed":        {"Your order %s is completed. Thank you for shopping with us!", "您的订单 %s 已完成，感谢您的惠顾！"},
	"notify_cancelled":        {"Your order %s has been cancelled. Reserved items were released.", "您的订单 %s 已取消，预留商品已释放。"},
	"notify_rejected":         {"Your order %s was not approved.", "您的订单 %s 未通过审批。"},
	"notify_refunded":         {"Your order %s has been refunded.", "您的订单 %s 已退款。"},
	"notify_pending_approval": {"Your order %s is waiting for approval.", "您的订单 %s 正在等待审批。"},
	"approval_request":        {"Approval request from %s (%s)", "来自 %s（%s）的审批请求"},
	"approval_rule":           {"Needs your approval: %s", "需要您审批的原因：%s"},
	"approval_approved":       {"✅ Approved by %s", "✅ 已由 %s 批准"},
	"approval_rejected":       {"❌ Rejected by %s", "❌ 已由 %s 驳回"},
	"btn_approve":             {"✅ Approve", "✅ 批准"},
	"btn_reject":              {"❌ Reject", "❌ 驳回"},
	"ask_reject_reason":       {"Why is order %s rejected? Type the reason; the requester will see it.", "订单 %s 为何被驳回？请输入原因，申请人会看到。"},
	"you_approved":            {"You approved order %s; the requester is told.", "您已批准订单 %s，已通知申请人。"},
	"you_rejected":            {"You rejected order %s; the requester is told why.", "您已驳回订单 %s，已将原因告知申请人。"},
	"already_decided":         {"Order %s was already decided (now %s), by %s.", "订单 %s 已审批（当前状态：%s），审批人 %s。"},
	"fulfil_card":             {"Order to fulfil, from %s (%s)", "待处理订单，来自 %s（%s）"},
	"btn_mark_shipped":        {"🚚 Mark shipped", "🚚 标记已发货"},
	"btn_mark_delivered":      {"✅ Mark delivered", "✅ 标记已送达"},
	"you_fulfilled":           {"Order %s is now %s; the requester is told.", "订单 %s 现为%s，已通知申请人。"},
	"fulfil_refused":          {"Order %s is %s and cannot be marked so now.", "订单 %s 当前为%s，现在无法这样标记。"},
	"not_staff":               {"Only the fulfilment staff can move order %s on.", "只有履约人员可以处理订单 %s。"},
	"home_orders":             {"Your recent orders", "我的最近订单"},
	"home_requests":           {"Waiting for your approval: %d", "等待您审批：%d"},
	"form_item":               {"Please choose an item from the list.", "请从列表中选择商品。"},
	"form_product":            {"Please choose a product from the list.", "请从列表中选择商品。"},
	"form_sold_out":           {"This product is sold out now; please choose another.", "该商品已售罄，请选择其他商品。"},
	"form_variant":            {"Please choose an option of this product; if none is listed, choose the product again.", "请选择该商品的款式；如未列出，请重新选择商品。"},
	"form_variant_label":      {"Option", "款式"},
	"form_variant_hint":       {"Choose an option", "选择款式"},
	"form_product_first":      {"Choose a product first: its options appear here.", "请先选择商品，这里会列出它的款式。"},
	"form_stock":              {"Only %d left.", "仅剩 %d 件。"},
	"form_location":           {"Please say where to deliver (at most %d characters).", "请填写送货位置（最多 %d 个字）。"},
	"form_changed":            {"%s changed (price or stock) since the form was filled; please order it again.", "%s 在填写表单后发生了变化（价格或库存），请重新下单。"},
	"form_refused":            {"The order could not be placed: %s", "无法下单：%s"},
	"form_unavailable":        {"Ordering by form is for the company account, which this conversation does not offer.", "表单下单仅适用于公司账户，此对话不支持。"},
	"approval_reminder":       {"Reminder: order %s has been waiting for your approval since %s.", "提醒：订单 %s 自 %s 起等待您的审批。"},
	"approval_unavailable":    {"This order cannot be sent for approval: no approver is configured for you. Please ask the office manager.", "无法提交审批：尚未为您配置审批人。请联系行政负责人。"},
	"you_approved_waiting":    {"You approved order %s; it still waits for: %s.", "您已批准订单 %s，仍在等待：%s。"},
	"approval_yours":          {"✅ You approved; still waiting for: %s", "✅ 您已批准；仍在等待：%s"},
	"not_approver":            {"You are not an approver of order %s.", "您不是订单 %s 的审批人。"},
	"notify_approved":         {"Your order %s was approved and is being prepared.", "您的订单 %s 已通过审批，正在备货。"},
	"notify_expired":          {"Your order %s was cancelled because it was not paid in time. Its items are back on sale.", "您的订单 %s 因未按时付款已取消，商品已重新上架。"},
	"notify_note":             {"Note: %s", "备注：%s"},

	"btn_amend":           {"✏ Change items", "✏ 修改商品"},
	"amend_started":       {"You are changing order %s. Change the items below, then tap Review changes.", "您正在修改订单 %s。请在下方修改商品，然后点击“查看修改”。"},
	"amend_cart":          {"Items of order %s (being changed):", "订单 %s 的商品（修改中）："},
	"btn_review_changes":  {"✅ Review changes", "✅ 查看修改"},
	"btn_discard_changes": {"↩ Discard changes", "↩ 放弃修改"},
	"amend_discarded":     {"Order %s stays as it was.", "订单 %s 保持不变。"},
	"amend_empty":         {"Order %s needs at least one item. To drop it all, cancel the order instead.", "订单 %s 至少需要一件商品。如不再需要，请取消订单。"},
	"amend_review":        {"Please check the new items of order %s:", "请确认订单 %s 的新商品："},
	"amend_review_note":   {"The address, contact and payment stay as they are. A company order whose total rises goes back for approval.", "地址、联系人和付款方式保持不变。公司订单金额增加时需要重新审批。"},
	"btn_confirm_changes": {"✅ Confirm changes", "✅ 确认修改"},
	"amended":             {"Order %s is changed. New total: %s.", "订单 %s 已修改，新的合计：%s。"},
	"amended_approval":    {"Order %s is changed (new total: %s) and waits for approval. I will tell you here as soon as it is decided.", "订单 %s 已修改（新的合计：%s），正在等待审批，有结果时我会在这里通知您。"},
	"cannot_amend":        {"Order %s is %s and can no longer be changed.", "订单 %s 当前状态为%s，无法修改。"},
	"notify_amended":      {"Your order %s was changed.", "您的订单 %s 已被修改。"},
	"approval_again":      {"The requester changed order %s (new total: %s); it needs your approval again.", "申请人修改了订单 %s（新的合计：%s），需要您重新审批。"},
	"approval_changed":    {"The requester changed order %s (new total: %s).", "申请人修改了订单 %s（新的合计：%s）。"},
	"fulfil_back":         {"Order %s was changed and waits for approval again: please do not ship it yet.", "订单 %s 已被修改，正在重新审批，请暂缓发货。"},
	"fulfil_changed":      {"Order %s was changed: please check the new items before shipping.", "订单 %s 已被修改，发货前请核对新的商品。"},

	"status_pending_approval": {"waiting for approval", "待审批"},
	"status_pending_payment":  {"waiting for payment", "待付款"},
	"status_pending_shipment": {"being prepared", "待发货"},
	"status_shipped":          {"shipped", "已发货"},
	"status_completed":        {"completed", "已完成"},
	"status_cancelled":        {"cancelled", "已取消"},
	"status_rejected":         {"rejected", "已拒绝"},
	"status_refunded":         {"refunded", "已退款"},
}

// T returns the text key in lang, formatted with args.
func T(lang, key string, args ...any) string {
	m, ok := texts[key]
	if !ok {
		return key // TestTextKeysUsed keeps this from happening
	}
	s := m.en
	if lang == "zh" {
		s = m.zh
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}
