package lua

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// A watcher's heartbeat is a key holding a time read from Redis' own clock
// (microseconds): every change committed before that time has been
// invalidated. Readers compare it with the same server's clock, so no two
// machines' clocks are ever compared.
var (
	// clockScript returns the server's time; the key only routes the call
	// to the node that holds the heartbeat.
	clockScript = redis.NewScript(`local t = redis.call('TIME') return t[1] * 1000000 + t[2]`)
	// heartbeatScript moves the heartbeat forward, never back (a watcher
	// that took over may finish an older probe).
	heartbeatScript = redis.NewScript(`local v = tonumber(redis.call('GET', KEYS[1]))
if v == nil or v < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1`)
	// readHeartbeatScript returns the heartbeat (false when none) and the
	// server's time, read together.
	readHeartbeatScript = redis.NewScript(`local t = redis.call('TIME')
return {redis.call('GET', KEYS[1]), t[1] * 1000000 + t[2]}`)
)

// Clock returns the time in microseconds on the node that holds key.
func (s *Store) Clock(ctx context.Context, key string) (int64, error) {
	rdb, _ := s.client.get()
	v, err := clockScript.Run(ctx, rdb, []string{key}).Int64()
	s.client.observe(err)
	return v, err
}

// SetHeartbeat moves the heartbeat at key forward to micros.
func (s *Store) SetHeartbeat(ctx context.Context, key string, micros int64) error {
	rdb, _ := s.client.get()
	err := heartbeatScript.Run(ctx, rdb, []string{key}, micros).Err()
	s.client.observe(err)
	return err
}

// Heartbeat returns the heartbeat at key (ok false when there is none) and
// the time on its node, in microseconds.
func (s *Store) Heartbeat(ctx context.Context, key string) (beat int64, ok bool, now int64, err error) {
	rdb, _ := s.client.get()
	v, err := readHeartbeatScript.Run(ctx, rdb, []string{key}).Slice()
	s.client.observe(err)
	if err != nil {
		return 0, false, 0, err
	}
	if len(v) != 2 {
		return 0, false, 0, fmt.Errorf("%w: heartbeat %v", ErrBadReply, v)
	}
	now, isInt := v[1].(int64)
	if !isInt {
		return 0, false, 0, fmt.Errorf("%w: heartbeat clock %v", ErrBadReply, v[1])
	}
	if v[0] == nil {
		return 0, false, now, nil
	}
	str, isStr := v[0].(string)
	beat, perr := strconv.ParseInt(str, 10, 64)
	if !isStr || perr != nil {
		return 0, false, 0, fmt.Errorf("%w: heartbeat %v", ErrBadReply, v[0])
	}
	return beat, true, now, nil
}
