package slack

import (
	"context"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"
)

// Slack users are looked up once in a while (users.info), for their
// language; names and email addresses are kept for the features that show
// them. The look-up happens before a message is taken, so it is cut short
// well inside Slack's 3 seconds, and within the request's Config.AckWithin.
const (
	personTTL     = time.Hour
	personLookup  = 1500 * time.Millisecond
	maxPeopleKept = 10000
)

// person is what Slack says of a user.
type person struct {
	Name, Email, Locale string
	at                  time.Time
}

type people struct {
	mu  sync.Mutex
	m   map[string]person
	dms map[string]string // user id → the direct message's channel id
}

// Locale is a user's Slack locale ("zh-CN"), looked up once an hour; "" when
// unknown.
func (b *Bot) Locale(ctx context.Context, user string) string { return b.person(ctx, user).Locale }

// rememberDM records a user's direct message with the app.
func (p *people) rememberDM(user, channel string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dms == nil || len(p.dms) >= maxPeopleKept {
		p.dms = make(map[string]string)
	}
	p.dms[user] = channel
}

// dmChannel returns the channel of a user's direct message with the app,
// opening it (conversations.open) the first time; "" when Slack refuses.
func (b *Bot) dmChannel(ctx context.Context, user string) string {
	b.people.mu.Lock()
	ch := b.people.dms[user]
	b.people.mu.Unlock()
	if ch != "" {
		return ch
	}
	ctx, cancel := context.WithTimeout(ctx, personLookup)
	defer cancel()
	c, _, _, err := b.api.OpenConversationContext(ctx, &slackapi.OpenConversationParameters{Users: []string{user}})
	if err != nil || c == nil || c.ID == "" {
		b.log.Warn("direct message not opened", "method", "conversations.open", "err", sanitize(err))
		return ""
	}
	b.people.rememberDM(user, c.ID)
	return c.ID
}

// person returns what Slack says of user, from the cache when fresh. A
// failed look-up returns what is cached, however old, or nothing: the
// conversation then speaks its default language.
func (b *Bot) person(ctx context.Context, user string) person {
	b.people.mu.Lock()
	p, ok := b.people.m[user]
	b.people.mu.Unlock()
	if ok && time.Since(p.at) < personTTL {
		return p
	}
	ctx, cancel := context.WithTimeout(ctx, personLookup)
	defer cancel()
	u, err := b.api.GetUserInfoContext(ctx, user)
	if err != nil {
		b.log.Debug("user not looked up", "method", "users.info", "err", sanitize(err))
		return p
	}
	p = person{Name: u.RealName, Email: u.Profile.Email, Locale: u.Locale, at: time.Now()}
	if p.Name == "" {
		p.Name = u.Name
	}
	b.people.mu.Lock()
	if b.people.m == nil || len(b.people.m) >= maxPeopleKept {
		b.people.m = make(map[string]person)
	}
	b.people.m[user] = p
	b.people.mu.Unlock()
	return p
}
