// Package dialog is the conversation: channel-neutral messages, sessions, the
// state machine that collects an order, its texts in English and Chinese, the
// free-text parsers, and the session stores.
package dialog
