// Package telegram is the Telegram channel: long polling or an authenticated
// webhook in, inline keyboards edited in place, contact and location
// requests, product photos and paced notifications out.
package telegram

import _ "github.com/go-telegram-bot-api/telegram-bot-api/v5"
