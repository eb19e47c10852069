package driver

import (
	"context"
	"errors"
	"testing"
	"time"
)

type ctxKey struct{}

func TestSharedDeadlines(t *testing.T) {
	const timeout = 80 * time.Millisecond
	var s sharedDeadlines
	bg := context.WithValue(context.Background(), ctxKey{}, "v")

	start := time.Now()
	a, cancelA := s.within(bg, timeout)
	b, cancelB := s.within(context.WithoutCancel(bg), timeout)
	defer cancelA()
	defer cancelB()
	if a.Done() != b.Done() {
		t.Error("calls made together under contexts that cannot be cancelled do not share a deadline")
	}
	for _, c := range []context.Context{a, b} {
		d, ok := c.Deadline()
		if !ok || d.Before(start.Add(timeout)) || d.After(time.Now().Add(timeout*9/8)) {
			t.Errorf("deadline %v from now, want between %v and %v", d.Sub(start), timeout, timeout*9/8)
		}
		if c.Value(ctxKey{}) != "v" {
			t.Error("the parent's values are lost")
		}
		if c.Err() != nil {
			t.Errorf("ended early: %v", c.Err())
		}
	}
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the shared deadline never passed")
	}
	if el := time.Since(start); el < timeout {
		t.Errorf("ended after %v, before the timeout %v", el, timeout)
	}
	if !errors.Is(a.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(a), context.DeadlineExceeded) {
		t.Errorf("err %v, cause %v", a.Err(), context.Cause(a))
	}
	// A call after it has passed gets a new one, a full timeout away.
	c, cancelC := s.within(bg, timeout)
	defer cancelC()
	if c.Err() != nil || c.Done() == a.Done() {
		t.Error("a passed deadline is handed out again")
	}
}

// A caller's cancellation reaches its call; a caller's own tighter deadline
// bounds it.
func TestSharedDeadlinesKeepTheCallersContext(t *testing.T) {
	const timeout = time.Second
	var s sharedDeadlines
	parent, cancelParent := context.WithCancel(context.Background())
	c, cancel := s.within(parent, timeout)
	defer cancel()
	if d, ok := c.Deadline(); !ok || time.Until(d) > timeout {
		t.Errorf("deadline %v, ok %v", d, ok)
	}
	cancelParent()
	select {
	case <-c.Done():
	case <-time.After(time.Second):
		t.Fatal("the caller's cancellation does not reach the call")
	}
	if !errors.Is(c.Err(), context.Canceled) {
		t.Errorf("err %v", c.Err())
	}

	tight, cancelTight := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancelTight()
	c, cancel = s.within(tight, timeout)
	defer cancel()
	want, _ := tight.Deadline()
	if d, _ := c.Deadline(); !d.Equal(want) {
		t.Errorf("deadline %v, want the caller's %v", d, want)
	}
}

func BenchmarkRedisContext(b *testing.B) {
	var s sharedDeadlines
	b.Run("shared", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_, cancel := s.within(context.Background(), 250*time.Millisecond)
			cancel()
		}
	})
	b.Run("WithTimeout", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
			cancel()
		}
	})
}
