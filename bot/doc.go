// Package bot connects channels to the conversation: the hub that deduplicates
// inbound messages and runs each conversation's messages in order on a bounded
// set of workers, and the notifier that delivers outbox notifications to the
// customers' channels. Each channel adapter lives in a subpackage.
package bot
