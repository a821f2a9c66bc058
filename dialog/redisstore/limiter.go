package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limiter keeps each channel's rate limits for all replicas together, so
// that the fleet, not each replica, sends at most one message per interval
// to a chat and one per gap overall, and a rate limit the channel answered
// one replica holds back all of them. It implements bot.SharedLimit.
//
// Its keys, after the prefix:
//
//	limit:CHANNEL:global     the channel's next free slot; expires once it has passed
//	limit:CHANNEL:chat:CHAT  when the chat may have its next message; expires then
//	limit:CHANNEL:pause      set while the channel is paused; expires when the pause ends
//
// Times are Unix microseconds of the Redis server's clock (TIME, read in
// the script that reserves), so the replicas' clocks need not agree. The
// slots are a "generic cell rate algorithm": the key keeps the theoretical
// arrival time of the next message, and each reservation moves it on.
type Limiter struct {
	keyspace // ttl unused: each key expires when its time has passed
}

// NewLimiter returns a Limiter on rdb with keys under prefix ("" for
// DefaultPrefix).
func NewLimiter(rdb redis.UniversalClient, prefix string) *Limiter {
	return &Limiter{newKeyspace(rdb, prefix, 0, 0)}
}

// reserveScript reserves a send to the chat KEYS[2] on the channel whose
// pause is KEYS[1] and next free slot KEYS[3], allowing one per ARGV[1] µs
// to the chat and one per ARGV[2] µs overall. While the chat is not due or
// the channel is paused it reserves nothing and returns {0, µs until then};
// else it takes the next free slot for the chat and the channel and returns
// {1, µs until that slot}. Each key it sets expires a millisecond after its
// time has passed, when it no longer holds anything back.
//
// Times are written with string.format: Lua would write a number of 16
// digits as 1.7e+15 and lose the microseconds.
var reserveScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local due = math.max(redis.call('PTTL', KEYS[1]) * 1000, (tonumber(redis.call('GET', KEYS[2])) or 0) - now)
if due > 0 then return {0, due} end
local slot = math.max(tonumber(redis.call('GET', KEYS[3])) or 0, now)
local function hold(key, till)
	redis.call('SET', key, string.format('%.0f', till), 'PX', math.ceil((till - now) / 1000) + 1)
end
hold(KEYS[3], slot + tonumber(ARGV[2]))
hold(KEYS[2], slot + tonumber(ARGV[1]))
return {1, slot - now}
`)

// pauseScript pauses a channel (KEYS[1]) for ARGV[1] ms, unless it is
// paused for longer already.
var pauseScript = redis.NewScript(`
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
	redis.call('SET', KEYS[1], 1, 'PX', ARGV[1])
end
return 0
`)

// limitKey is the key of one of channel's limits: "global", "pause" or
// "chat:CHAT".
func (l *Limiter) limitKey(channel, name string) string {
	return l.prefix + "limit:" + channel + ":" + name
}

// Reserve implements bot.SharedLimit: one round trip, one script.
func (l *Limiter) Reserve(ctx context.Context, channel, chat string, interval, gap time.Duration) (time.Duration, bool, error) {
	keys := []string{l.limitKey(channel, "pause"), l.limitKey(channel, "chat:"+chat), l.limitKey(channel, "global")}
	res, err := reserveScript.Run(ctx, l.rdb, keys, interval.Microseconds(), gap.Microseconds()).Int64Slice()
	if err != nil {
		return 0, false, fmt.Errorf("reserve a send: %w", err)
	}
	if len(res) != 2 {
		return 0, false, fmt.Errorf("reserve a send: the script returned %v", res)
	}
	return time.Duration(res[1]) * time.Microsecond, res[0] == 1, nil
}

// Pause implements bot.SharedLimit.
func (l *Limiter) Pause(ctx context.Context, channel string, d time.Duration) error {
	if err := pauseScript.Run(ctx, l.rdb, []string{l.limitKey(channel, "pause")}, millis(d)).Err(); err != nil {
		return fmt.Errorf("pause sends: %w", err)
	}
	return nil
}

// Paused returns how long sends on channel are still paused; 0 when they
// are not.
func (l *Limiter) Paused(ctx context.Context, channel string) (time.Duration, error) {
	d, err := l.rdb.PTTL(ctx, l.limitKey(channel, "pause")).Result()
	if err != nil {
		return 0, fmt.Errorf("look up a pause: %w", err)
	}
	return max(d, 0), nil
}
