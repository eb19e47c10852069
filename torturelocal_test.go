package cacheops_test

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/cacheops/cacheops"
)

// tortureLocalBound is the local layer's MaxStaleness in the local runs.
const tortureLocalBound = 100 * time.Millisecond

// The torture test with the local layer on in both processes. This one
// reaches Redis through a proxy that about once a second stalls the replies
// of its tracking connections for four bounds (a network that stops
// delivering),
// and Redis is restarted mid-run. A write is promised to the other
// process' reads MaxStaleness after it returned, to its own at once.
func TestTortureLocal(t *testing.T) { runTortureLocal(t, false) }

// With the heartbeat check off (the test-only hook) the stalls serve stale
// reads, and the checker must find them.
func TestTortureLocalCheckerCatchesSkippedHeartbeat(t *testing.T) { runTortureLocal(t, true) }

func runTortureLocal(t *testing.T, skipHeartbeat bool) {
	if os.Getenv("CACHEOPS_TORTURE_HELPER") != "" {
		return
	}
	srv := startRedis(t)
	proxy := newRedisProxy(t, "127.0.0.1:"+strconv.Itoa(srv.port))
	// Stalls of stall, every gap plus up to a third more.
	gap, stall := time.Second, 4*tortureLocalBound
	if skipHeartbeat {
		gap, stall = 300*time.Millisecond, 6*tortureLocalBound
	}
	t.Setenv("CACHEOPS_TORTURE_LOCAL", tortureLocalBound.String()) // both processes
	run := tortureRun{
		url:        srv.url(),
		mainURL:    "redis://" + proxy.ln.Addr().String() + "/0",
		disrupt:    srv.restart,
		disrupted:  func() bool { return srv.restarts.Load() > 0 }, // a run made again restarts it again
		otherBound: tortureLocalBound,
		during: func(ctx context.Context, log *tortureLog) {
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(gap + rand.N(gap/3)):
				}
				start := time.Now().UnixNano()
				proxy.hold()
				select {
				case <-ctx.Done():
				case <-time.After(stall):
				}
				proxy.release()
				log.add(tEvent{Kind: "x", Query: "tracking stalled", Start: start, End: time.Now().UnixNano()})
			}
		},
	}
	if os.Getenv("CACHEOPS_TORTURE") == "" {
		// make test's share; make torture runs it as long as the others.
		// Its 8 s may serve no hit at all (whole-database writes, a
		// restart, tracking stalls): then it is made again.
		run.dur, run.retries = 8*time.Second, 2
	}
	if skipHeartbeat {
		// Short, and with the stalls as the only disruption: a restart
		// empties the local layer (the connection is lost), which is not
		// what this run is about. This process only reads: its own writes,
		// some of them whole-database invalidations, would empty its local
		// layer too often for the stalls to show.
		run.tweaks = []tortureTweak{{readOnly: true, cache: func(c *cacheops.Cache) { cacheops.SkipLocalHeartbeatForTesting(c, true) }}}
		run.disrupt = func(*testing.T) {}
		run.wantStale, run.dur, run.retries = true, 6*time.Second, 2
	}
	runTorture(t, run)
}
