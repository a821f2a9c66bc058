package slackfake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"time"
)

// The headers of a request from Slack.
const (
	HeaderTimestamp   = "X-Slack-Request-Timestamp"
	HeaderSignature   = "X-Slack-Signature"
	HeaderRetryNum    = "X-Slack-Retry-Num"
	HeaderRetryReason = "X-Slack-Retry-Reason"
)

// The content types Slack sends: JSON for the Events API, a form for
// interactivity and slash commands.
const (
	ContentTypeJSON = "application/json"
	ContentTypeForm = "application/x-www-form-urlencoded"
)

// AckTimeout is how long Slack waits for the bot to answer a request before
// it gives up (and, for events, retries); Post waits as long.
const AckTimeout = 3 * time.Second

// Sign signs a request body sent at ts with Slack's v0 scheme and returns
// the values of the X-Slack-Request-Timestamp and X-Slack-Signature headers:
// "v0=" + hex(HMAC-SHA256(secret, "v0:" + unix seconds + ":" + body)).
func Sign(secret string, ts time.Time, body []byte) (timestampHeader, signatureHeader string) {
	timestampHeader = strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + timestampHeader + ":"))
	mac.Write(body)
	return timestampHeader, "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// Post sends body to url as Slack does, signed with secret at ts, and
// returns the status and body of the answer. Headers given are set after the
// signature, so they can replace it. It gives up after AckTimeout.
func Post(url, secret string, ts time.Time, contentType string, body []byte, headers ...http.Header) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), AckTimeout)
	defer cancel()
	return PostContext(ctx, url, secret, ts, contentType, body, headers...)
}

// PostContext is Post bounded by ctx instead of AckTimeout.
func PostContext(ctx context.Context, url, secret string, ts time.Time, contentType string, body []byte, headers ...http.Header) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	stamp, sig := Sign(secret, ts, body)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
	req.Header.Set(HeaderTimestamp, stamp)
	req.Header.Set(HeaderSignature, sig)
	for _, h := range headers {
		for k, vs := range h {
			req.Header.Del(k)
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 10<<20))
	return resp.StatusCode, b, err
}

// RetryHeaders are the headers of Slack's retry number num of an event it
// could not deliver, e.g. RetryHeaders(1, "http_timeout").
func RetryHeaders(num int, reason string) http.Header {
	h := http.Header{}
	h.Set(HeaderRetryNum, strconv.Itoa(num))
	h.Set(HeaderRetryReason, reason)
	return h
}
