package txn

import (
	"reflect"
	"testing"
)

func TestStateUsesCache(t *testing.T) {
	cases := []struct {
		name string
		do   func(s *State)
		want bool
	}{
		{"no transaction", func(s *State) {}, true},
		{"clean read committed", func(s *State) { s.Begin("", "read committed") }, true},
		{"explicit repeatable read", func(s *State) { s.Begin("repeatable read", "read committed") }, false},
		{"default serializable", func(s *State) { s.Begin("", "serializable") }, false},
		{"SET TRANSACTION", func(s *State) { s.Begin("", "read committed"); s.SetIsolation("serializable", "") }, false},
		{"dirty", func(s *State) { s.Begin("", ""); s.Queue([]string{"a"}, false) }, false},
		{"failed", func(s *State) { s.Begin("", ""); s.MarkFailed() }, false},
		{"recovered by savepoint", func(s *State) { s.Begin("", ""); s.MarkFailed(); s.RolledBackToSavepoint() }, true},
		{"ended", func(s *State) { s.Begin("", ""); s.Queue(nil, true); s.End() }, true},
	}
	for _, c := range cases {
		var s State
		c.do(&s)
		if got := s.UsesCache(); got != c.want {
			t.Errorf("%s: UsesCache = %v", c.name, got)
		}
	}
}

func TestEndReturnsTheQueueOnce(t *testing.T) {
	var s State
	s.Begin("", "")
	s.Queue([]string{"b", "a"}, false)
	s.Queue([]string{"a", "c"}, true)
	s.MarkSessionChanged()
	keys, global, changed := s.End()
	if !reflect.DeepEqual(keys, []string{"a", "b", "c"}) || !global || !changed {
		t.Fatalf("%v %v %v", keys, global, changed)
	}
	if keys, global, _ := s.End(); len(keys) != 0 || global || s.Active() {
		t.Fatal("End must reset the state")
	}
}
