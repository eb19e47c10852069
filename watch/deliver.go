package watch

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pglogrepl"

	cdriver "github.com/cacheops/cacheops/driver"
	"github.com/cacheops/cacheops/keys"
)

// decided is a decoded transaction's invalidation.
type decided struct {
	end       pglogrepl.LSN
	some      bool // it changed something
	changes   []keys.Change
	global    bool
	token     string // the catalog the changes were computed with
	ddl       bool
	probe     int64 // a probe's Redis time (0: none)
	committed time.Time
}

// queueLen bounds the transactions decoded and not yet delivered.
const queueLen = 4096

// maxBatch bounds the transactions one delivery merges.
const maxBatch = 512

// deliver sends the decoded transactions' invalidations in commit order.
// Whatever has queued up while a delivery ran goes in the next one, merged
// (transactions computed with one catalog, DDL alone): the watcher keeps
// up with any commit rate at one Redis round trip per batch rather than
// per transaction. A batch's end is handled once it is delivered or kept;
// a probe's time becomes the heartbeat once everything before it is
// delivered.
func (w *watcher) deliver(ctx context.Context) {
	var next *decided
	for {
		var first decided
		if next != nil {
			first, next = *next, nil
		} else {
			select {
			case first = <-w.queue:
			case <-ctx.Done():
				return
			}
		}
		batch, token, some := []decided{first}, first.token, first.some
	drain:
		for len(batch) < maxBatch && !first.ddl {
			select {
			case d := <-w.queue:
				if d.some && (d.ddl || some && d.token != token) {
					next = &d
					break drain
				}
				batch = append(batch, d)
				if d.some && !some {
					token, some = d.token, true
				}
			default:
				break drain
			}
		}
		if err := w.deliverBatch(ctx, batch); err != nil {
			w.failed <- err
			return
		}
	}
}

func (w *watcher) deliverBatch(ctx context.Context, batch []decided) error {
	var changes []keys.Change
	global, some, token := false, false, ""
	var probe int64
	for _, d := range batch {
		if d.some {
			changes, global, some, token = append(changes, d.changes...), global || d.global, true, d.token
		}
		probe = max(probe, d.probe)
	}
	if some {
		switch err := w.target.Invalidate(ctx, changes, global, token); {
		case err == nil:
			for _, d := range batch {
				if d.some {
					w.target.Handled(ctx, d.committed)
				}
			}
		case !errors.Is(err, cdriver.ErrKept):
			return err
		}
	}
	if probe > 0 && w.target.Delivered() {
		// Everything committed before the probe was sent is invalidated.
		w.target.Heartbeat(ctx, probe)
	}
	w.handled.Store(uint64(batch[len(batch)-1].end))
	return nil
}
