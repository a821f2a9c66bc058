package main

import (
	"encoding/json"
	"strconv"
	"strings"
)

// The Telegram update fields the bot reads, and no more: the generator
// shares the machine with the server it measures.

type tgUser struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	Username     string `json:"username,omitempty"`
	LanguageCode string `json:"language_code,omitempty"`
}

type tgChat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	FirstName string `json:"first_name,omitempty"`
}

type tgEntity struct {
	Type   string `json:"type"`
	Offset int    `json:"offset"`
	Length int    `json:"length"`
}

type tgPhoto struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
}

type tgMessage struct {
	MessageID int64      `json:"message_id"`
	Date      int64      `json:"date"`
	From      *tgUser    `json:"from,omitempty"`
	Chat      tgChat     `json:"chat"`
	Text      string     `json:"text,omitempty"`
	Entities  []tgEntity `json:"entities,omitempty"`
	Photo     []tgPhoto  `json:"photo,omitempty"`
}

type tgCallback struct {
	ID           string     `json:"id"`
	From         tgUser     `json:"from"`
	Message      *tgMessage `json:"message,omitempty"`
	ChatInstance string     `json:"chat_instance"`
	Data         string     `json:"data"`
}

type tgUpdate struct {
	UpdateID      int64       `json:"update_id"`
	Message       *tgMessage  `json:"message,omitempty"`
	CallbackQuery *tgCallback `json:"callback_query,omitempty"`
}

// customerUser is the simulated customer with the given id, who speaks
// English.
func customerUser(id int64) tgUser {
	return tgUser{ID: id, FirstName: "Customer", LanguageCode: "en"}
}

// textUpdate is a text message (or a command) the customer user types in
// their private chat with the bot, sent at the Unix time date.
func textUpdate(update, user int64, text string, date int64) []byte {
	from := customerUser(user)
	m := &tgMessage{MessageID: update, Date: date, From: &from, Chat: privateChat(user), Text: text}
	if strings.HasPrefix(text, "/") {
		cmd, _, _ := strings.Cut(text, " ")
		m.Entities = []tgEntity{{Type: "bot_command", Length: len(cmd)}} // commands are ASCII: bytes are UTF-16 units
	}
	return mustJSON(tgUpdate{UpdateID: update, Message: m})
}

// callbackUpdate is the customer user pressing the button whose
// callback_data is data on the bot's message on.
func callbackUpdate(update, user, bot int64, on message, data string, date int64) []byte {
	m := &tgMessage{
		MessageID: on.id, Date: date, Chat: privateChat(user),
		From: &tgUser{ID: bot, IsBot: true, FirstName: "Orderbench", Username: botUsername},
	}
	if on.photo {
		m.Photo = []tgPhoto{{FileID: "photo", FileUniqueID: "photo", Width: 1, Height: 1}}
	}
	return mustJSON(tgUpdate{UpdateID: update, CallbackQuery: &tgCallback{
		ID:           strconv.FormatInt(update, 10),
		From:         customerUser(user),
		Message:      m,
		ChatInstance: strconv.FormatInt(user, 10),
		Data:         data,
	}})
}

func privateChat(user int64) tgChat { return tgChat{ID: user, Type: "private", FirstName: "Customer"} }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs of strings and numbers always marshal
	}
	return b
}
