package lua

import (
	"context"
	"testing"
)

// The heartbeat only moves forward, and is read with the clock of the node
// that holds it.
func TestHeartbeat(t *testing.T) {
	s, p := testStore(t)
	ctx := context.Background()
	key := p + "w"
	t.Cleanup(func() { s.Client().Del(context.Background(), key) })
	if _, ok, now, err := s.Heartbeat(ctx, key); err != nil || ok || now <= 0 {
		t.Fatalf("no heartbeat yet: ok %v now %d err %v", ok, now, err)
	}
	clock, err := s.Clock(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		set, want int64
	}{
		{clock, clock},
		{clock - 1000, clock}, // an older probe does not move it back
		{clock + 5, clock + 5},
	} {
		if err := s.SetHeartbeat(ctx, key, c.set); err != nil {
			t.Fatal(err)
		}
		beat, ok, now, err := s.Heartbeat(ctx, key)
		if err != nil || !ok || beat != c.want || now < clock {
			t.Fatalf("after %d: beat %d ok %v now %d err %v, want %d", c.set, beat, ok, now, err, c.want)
		}
	}
	s.Client().Set(ctx, key, "not a time", 0)
	if _, _, _, err := s.Heartbeat(ctx, key); err == nil {
		t.Fatal("a foreign value was read as a heartbeat")
	}
}
