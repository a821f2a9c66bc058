package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Slack signs every request it sends: X-Slack-Signature is "v0=" and the hex
// HMAC-SHA256, keyed with the app's signing secret, of
// "v0:<X-Slack-Request-Timestamp>:<body>".
const (
	headerSignature = "X-Slack-Signature"
	headerTimestamp = "X-Slack-Request-Timestamp"
	// maxRequestAge is how far a request's timestamp may be from now:
	// older requests are refused as replays.
	maxRequestAge = 5 * time.Minute
)

// Errors of verify; none is shown to the sender beyond "unauthorized".
var (
	errUnsigned = errors.New("request is not signed")
	errBadSig   = errors.New("signature does not match")
	errStale    = errors.New("request timestamp is more than 5 minutes from now")
)

// verify checks a request's signature against secret, with now as the
// clock. slack-go's SecretsVerifier does the same against the system clock
// only; tests (and Slack's published example, signed in 2018) need another.
func verify(h http.Header, body []byte, secret string, now time.Time) error {
	sig, ts := h.Get(headerSignature), h.Get(headerTimestamp)
	if sig == "" || ts == "" || secret == "" {
		return errUnsigned
	}
	hexSig, ok := strings.CutPrefix(sig, "v0=")
	got, err := hex.DecodeString(hexSig)
	if !ok || err != nil || len(got) != sha256.Size {
		return errBadSig
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: bad timestamp", errUnsigned)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > maxRequestAge || d < -maxRequestAge {
		return errStale
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), got) {
		return errBadSig
	}
	return nil
}
