// Package telegram is the Telegram channel: long polling or an authenticated
// webhook in, inline keyboards edited in place, contact and location
// requests, product photos and paced notifications out.
//
// Updates become channel-neutral dialog.Inbound messages and go to the hub,
// which runs each conversation in order; the replies are rendered on the
// hub's worker as Telegram messages (HTML, split at 4,096 characters). In
// groups the bot answers only what is addressed to it, pointing to a private
// chat. Notifications (Bot.Send, a bot.Sender) are paced per chat and
// overall, obey flood control and report blocked users as
// bot.ErrUnreachable.
//
// The fake Bot API server in telegramtest lets the rest of the project test
// against Telegram without the network.
package telegram
