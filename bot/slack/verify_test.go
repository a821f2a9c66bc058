package slack

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// Slack's published example of a signed request.
const (
	exampleSecret    = "8f742231b10e8888abcd99yyyzzz85a5"
	exampleTimestamp = "1531420618"
	exampleBody      = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	exampleSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
)

func TestVerifyPublishedExample(t *testing.T) {
	at := time.Unix(1531420618, 0)
	h := http.Header{}
	h.Set(headerTimestamp, exampleTimestamp)
	h.Set(headerSignature, exampleSignature)
	if err := verify(h, []byte(exampleBody), exampleSecret, at.Add(time.Minute)); err != nil {
		t.Fatalf("Slack's example refused: %v", err)
	}
	cases := []struct {
		name   string
		header func(http.Header)
		body   string
		secret string
		now    time.Time
		want   error
	}{
		{"tampered body", nil, exampleBody + "&x=1", exampleSecret, at, errBadSig},
		{"other secret", nil, exampleBody, "not-the-secret", at, errBadSig},
		{"no signature", func(h http.Header) { h.Del(headerSignature) }, exampleBody, exampleSecret, at, errUnsigned},
		{"no timestamp", func(h http.Header) { h.Del(headerTimestamp) }, exampleBody, exampleSecret, at, errUnsigned},
		{"not v0", func(h http.Header) { h.Set(headerSignature, "v1="+exampleSignature[3:]) }, exampleBody, exampleSecret, at, errBadSig},
		{"not hex", func(h http.Header) { h.Set(headerSignature, "v0=zz") }, exampleBody, exampleSecret, at, errBadSig},
		{"replayed 6 minutes later", nil, exampleBody, exampleSecret, at.Add(6 * time.Minute), errStale},
		{"from 6 minutes ahead", nil, exampleBody, exampleSecret, at.Add(-6 * time.Minute), errStale},
		{"no secret configured", nil, exampleBody, "", at, errUnsigned},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			h.Set(headerTimestamp, exampleTimestamp)
			h.Set(headerSignature, exampleSignature)
			if c.header != nil {
				c.header(h)
			}
			if err := verify(h, []byte(c.body), c.secret, c.now); !errors.Is(err, c.want) {
				t.Fatalf("verify = %v, want %v", err, c.want)
			}
		})
	}
}

// FuzzVerify: no header or body makes verify panic or accept a request not
// signed with the secret.
func FuzzVerify(f *testing.F) {
	f.Add(exampleTimestamp, exampleSignature, exampleBody)
	f.Add("", "v0=", "")
	f.Add("99999999999999999999", "v0=00", "x")
	f.Fuzz(func(t *testing.T, ts, sig, body string) {
		h := http.Header{}
		h.Set(headerTimestamp, ts)
		h.Set(headerSignature, sig)
		err := verify(h, []byte(body), "another-secret", time.Unix(1531420618, 0))
		if err == nil && sig == exampleSignature {
			t.Fatal("a signature made with another secret was accepted")
		}
	})
}
