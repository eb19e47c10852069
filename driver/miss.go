package driver

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"

	"github.com/cacheops/cacheops/serialize"
)

// errNotShared tells waiters to run their own query: the leader's result is
// too large to buffer, or holds values that cannot be cached.
var errNotShared = errors.New("cacheops: result not shared")

// flight is a miss's result as the leader read it.
type flight struct {
	res *serialize.Result
	// err ended the rows early: the leader's caller gets the rows read and
	// then this error, as the wrapped driver would have given them; nothing
	// is stored or shared.
	err error
}

// miss runs a cacheable query that missed. Readers in this process that
// missed the same entry having seen the same stamp tokens share one run:
// equal tokens mean no invalidation of their stamps landed after the
// leader read them, so no write that finished before a waiter started can be
// missing from the leader's snapshot. The leader reads the whole result (up
// to MaxRows), stores it behind the stale-fill guard, and everyone gets a
// replay. A larger result streams on to the leader's caller and is neither
// stored nor shared.
func (c *Conn) miss(ctx context.Context, p *plan, key string, stamps []string, tokens string, run func(context.Context) (driver.Rows, error)) (driver.Rows, error) {
	var own driver.Rows
	v, err, call, led := c.cfg.flights.lead(key+"\x00"+tokens, func() (*flight, error) {
		if c.wantsFillLock(ctx, p) {
			// Across processes: one fills, the others wait for its entry.
			res, release := c.awaitFill(ctx, key, stamps)
			defer release()
			if res != nil {
				c.cfg.stats.Shared.Add(1)
				return &flight{res: res}, nil
			}
		}
		rows, err := run(ctx)
		if err != nil {
			return nil, err
		}
		f, rest := c.collect(rows)
		if rest != nil {
			own = rest
			c.cfg.stats.Uncached.Add(1)
			return nil, errNotShared
		}
		if f.err == nil {
			c.store(ctx, key, stamps, tokens, f.res)
		} else {
			c.cfg.stats.Uncached.Add(1)
		}
		return f, nil
	})
	if led {
		if own != nil {
			return own, nil
		}
		if err != nil {
			return nil, err
		}
		return v.replay(), nil
	}
	v, err, ok := call.wait(ctx)
	if !ok {
		// The caller's deadline, not the leader's: the database reports it
		// as it would without cacheops.
		c.cfg.stats.Passthrough.Add(1)
		return run(ctx)
	}
	if err != nil || v.err != nil {
		c.cfg.stats.Passthrough.Add(1)
		return run(ctx) // the leader failed: find out for ourselves
	}
	c.cfg.stats.Shared.Add(1)
	return v.replay(), nil
}

// collect reads a whole result. It returns rows to stream on instead when the
// result has more than MaxRows rows or a value that cannot be cached.
func (c *Conn) collect(rows driver.Rows) (*flight, driver.Rows) {
	fr := forwardRows{rows}
	cols := fr.columns()
	res := &serialize.Result{Columns: cols}
	f := &flight{res: res}
	if _, err := serialize.NewEncoder(cols); err != nil {
		return nil, &prefixRows{forwardRows: fr}
	}
	for {
		dest := make([]driver.Value, len(cols))
		err := rows.Next(dest)
		if err == io.EOF { //nolint:errorlint // drivers return io.EOF itself
			break
		}
		if err != nil {
			f.err = err
			break
		}
		for i, v := range dest {
			if b, ok := v.([]byte); ok && b != nil {
				dest[i] = append([]byte{}, b...) // the driver may reuse its buffer
			}
		}
		res.Rows = append(res.Rows, dest)
		if len(res.Rows) > c.cfg.MaxRows {
			return nil, &prefixRows{forwardRows: fr, buffered: res.Rows}
		}
	}
	if err := rows.Close(); err != nil && f.err == nil {
		f.err = err
	}
	return f, nil
}

// store encodes a result and stores it if its stamps still hold the tokens
// read before the query ran.
func (c *Conn) store(ctx context.Context, key string, stamps []string, tokens string, res *serialize.Result) {
	cfg := c.cfg
	enc, err := serialize.NewEncoder(res.Columns)
	for _, row := range res.Rows {
		if err == nil {
			err = enc.AddRow(row)
		}
	}
	var payload []byte
	if err == nil {
		payload, err = enc.Bytes()
	}
	if err != nil {
		cfg.stats.Uncached.Add(1)
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.RedisTimeout)
	defer cancel()
	stored, err := cfg.Store.Put(sctx, key, stamps, tokens, payload, cfg.TTL)
	switch {
	case err != nil:
		cfg.stats.RedisErrors.Add(1)
	case stored:
		cfg.stats.Stores.Add(1)
	default:
		cfg.stats.GuardDrops.Add(1)
	}
}

func (f *flight) replay() driver.Rows {
	r := newReplayRows(f.res)
	r.err = f.err
	return r
}

// prefixRows replays the rows already read, then streams on.
type prefixRows struct {
	forwardRows
	buffered [][]driver.Value
}

func (r *prefixRows) Next(dest []driver.Value) error {
	if len(r.buffered) > 0 {
		copy(dest, r.buffered[0])
		r.buffered = r.buffered[1:]
		return nil
	}
	return r.Rows.Next(dest)
}
