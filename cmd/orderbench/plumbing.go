package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"orderbot/dialog"
	"orderbot/dialog/redisstore"
)

// plumbingBot is the least a Telegram bot can do for orderbench's
// customers, the baseline that orderbot serve is measured against in the
// same run (-plumbing): for each update posted to its webhook it reads the
// update, answers with one Bot API call that carries the text and buttons
// the customer's script waits for (sendMessage, or editMessageText for a
// pressed button), and answers the webhook, with answerCallbackQuery for a
// button. It keeps no conversation but a step counter per chat, and knows
// no shop. With Redis (-plumbing-redis) it also makes the three round trips
// a serve replica makes for a message: the conversation's lease (which
// checks the message id and reads the session), the session's save, and
// the lease's release (which records the id).
type plumbingBot struct {
	api    string // the fake Bot API's base URL for the bot's token, ending in "/"
	secret string
	client *http.Client
	steps  [][]step // the scripts, one a variant: the same but for the variant's label

	lease    *redisstore.Lease // nil: no Redis
	sessions *redisstore.Store

	mu   sync.Mutex
	next map[int64]int // chat → index of the step its next message is
}

func newPlumbingBot(apiURL string, o *options, rdb *redis.Client) *plumbingBot {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	p := &plumbingBot{
		api:    apiURL + "/bot" + o.token + "/",
		secret: o.secret,
		client: &http.Client{Transport: transport, Timeout: 10 * time.Second},
		next:   map[int64]int{},
	}
	for _, v := range o.variants {
		p.steps = append(p.steps, conversation(o.category, o.product, v, strconv.Itoa(o.quantity)))
	}
	if rdb != nil {
		p.lease = redisstore.NewLease(rdb, "orderbench:", time.Hour)
		p.sessions = redisstore.New(rdb, "orderbench:", time.Hour)
	}
	return p
}

// ServeHTTP is the webhook, and /healthz.
func (p *plumbingBot) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		io.WriteString(w, "ok\n")
		return
	}
	if r.Header.Get(secretHeader) != p.secret {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var u tgUpdate
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&u); err != nil {
		http.Error(w, "malformed update", http.StatusBadRequest)
		return
	}
	answer, err := p.handle(r.Context(), u)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if answer != nil {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Write(answer)
}

// handle answers one update and returns the webhook's answer body.
func (p *plumbingBot) handle(ctx context.Context, u tgUpdate) ([]byte, error) {
	var chat, edit int64
	var answer []byte
	switch {
	case u.Message != nil:
		chat = u.Message.Chat.ID
	case u.CallbackQuery != nil && u.CallbackQuery.Message != nil:
		chat, edit = u.CallbackQuery.Message.Chat.ID, u.CallbackQuery.Message.MessageID
		answer = mustJSON(map[string]string{"method": "answerCallbackQuery", "callback_query_id": u.CallbackQuery.ID})
	default:
		return nil, nil
	}
	if p.lease != nil {
		if err := p.turn(ctx, chat, u.UpdateID); err != nil {
			return nil, err
		}
	}
	p.mu.Lock()
	i := p.next[chat]
	p.next[chat] = i + 1
	if i+1 >= len(p.steps[0]) {
		delete(p.next, chat) // the conversation's last step
	}
	p.mu.Unlock()
	if i >= len(p.steps[0]) {
		return answer, nil
	}
	form := url.Values{"chat_id": {strconv.FormatInt(chat, 10)}, "text": {p.steps[0][i].want + " (step " + strconv.Itoa(i+1) + ")"}}
	if labels := p.taps(i + 1); len(labels) > 0 {
		var row []button
		for j, l := range labels {
			row = append(row, button{Text: l, Data: "s" + strconv.Itoa(i+1) + ":" + strconv.Itoa(j)})
		}
		form.Set("reply_markup", string(mustJSON(map[string]any{"inline_keyboard": [][]button{row}})))
	}
	method := "sendMessage"
	if edit != 0 {
		method = "editMessageText"
		form.Set("message_id", strconv.FormatInt(edit, 10))
	}
	if err := p.call(ctx, method, form); err != nil {
		return nil, err
	}
	return answer, nil
}

// taps are the labels of the buttons step i presses, one a variant's
// script (they differ at the variant's step only); none when step i is
// typed or past the end.
func (p *plumbingBot) taps(i int) []string {
	var labels []string
	for _, s := range p.steps {
		if i < len(s) && s[i].tap != "" && !slices.Contains(labels, s[i].tap) {
			labels = append(labels, s[i].tap)
		}
	}
	return labels
}

// turn makes a serve replica's Redis round trips for one message.
func (p *plumbingBot) turn(ctx context.Context, chat, update int64) error {
	key := dialog.Key{Channel: "telegram", Chat: strconv.FormatInt(chat, 10), User: strconv.FormatInt(chat, 10)}
	id := "telegram\x00" + strconv.FormatInt(update, 10)
	leased, token, handled, err := p.lease.Acquire(ctx, key.String(), id, 10*time.Second)
	if err != nil || handled {
		return err
	}
	err = p.sessions.Update(leased, key, func(s *dialog.Session) error {
		s.Seq++
		return nil
	})
	return errors.Join(err, p.lease.Release(ctx, key.String(), token, id))
}

// call makes one Bot API call and checks its answer.
func (p *plumbingBot) call(ctx context.Context, method string, form url.Values) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.api+method, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r struct {
		OK bool `json:"ok"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || !r.OK {
		return fmt.Errorf("%s: %s, %v", method, resp.Status, err)
	}
	return nil
}

// startPlumbing serves a plumbingBot on each target, for the whole run;
// stop closes them.
func startPlumbing(o *options, apiURL string) (stop func(), err error) {
	var rdb *redis.Client
	if o.plumbingRedis != "" {
		if rdb, err = redisstore.Open(o.plumbingRedis); err != nil {
			return nil, err
		}
	}
	bot := newPlumbingBot(apiURL, o, rdb)
	var servers []*http.Server
	stop = func() {
		for _, s := range servers {
			s.Close()
		}
		if rdb != nil {
			rdb.Close()
		}
	}
	for _, t := range o.targets {
		ln, err := net.Listen("tcp", t.Host)
		if err != nil {
			stop()
			return nil, fmt.Errorf("-target %s: %w", t, err)
		}
		t.Host = ln.Addr().String()
		srv := &http.Server{Handler: bot, ReadHeaderTimeout: 5 * time.Second}
		servers = append(servers, srv)
		go srv.Serve(ln)
	}
	return stop, nil
}
