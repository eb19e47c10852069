package breaker

import (
	"errors"
	"testing"
	"time"
)

func TestBreaker(t *testing.T) {
	fail := errors.New("down")
	b := &Breaker{Threshold: 3, Cooldown: 50 * time.Millisecond}
	for i := range 2 {
		if opened, _ := b.Record(fail); opened || !b.Allow() {
			t.Fatalf("open after %d failures", i+1)
		}
	}
	if _, closed := b.Record(nil); closed {
		t.Fatal("a success closed a closed breaker")
	}
	for range 2 {
		b.Record(fail)
	}
	if !b.Allow() {
		t.Fatal("a success did not reset the failures")
	}
	if opened, _ := b.Record(fail); !opened || b.Allow() || !b.IsOpen() {
		t.Fatal("not open after three failures in a row")
	}
	time.Sleep(60 * time.Millisecond)
	if !b.Allow() || b.Allow() {
		t.Fatal("half-open must let exactly one call through")
	}
	if _, closed := b.Record(nil); !closed || !b.Allow() || b.IsOpen() {
		t.Fatal("the probe's success did not close it")
	}
	if (&Breaker{}).Record(fail); !(&Breaker{}).Allow() {
		t.Fatal("the zero value opened")
	}
}
