package txn

import (
	"reflect"
	"testing"

	"github.com/cacheops/cacheops/keys"
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
		{"dirty", func(s *State) { s.Begin("", ""); s.Queue(keys.WideOf([]string{"a"}), false, "") }, false},
		{"failed", func(s *State) { s.Begin("", ""); s.MarkFailed() }, false},
		{"recovered by savepoint", func(s *State) { s.Begin("", ""); s.MarkFailed(); s.RolledBackToSavepoint() }, true},
		{"ended", func(s *State) { s.Begin("", ""); s.Queue(nil, true, ""); s.End() }, true},
		{"chained keeps the level", func(s *State) { s.Begin("serializable", ""); s.Chain() }, false},
	}
	for _, c := range cases {
		var s State
		c.do(&s)
		if got := s.UsesCache(); got != c.want {
			t.Errorf("%s: UsesCache = %v", c.name, got)
		}
	}
}

func TestQueueMergesChangesPerRelation(t *testing.T) {
	var s State
	s.Begin("", "")
	s.Queue([]keys.Change{{Rel: "b", Images: []map[string]string{{"id": "1"}}}, {Rel: "a", Wide: true}}, false, "t1")
	s.Queue([]keys.Change{{Rel: "b", Images: []map[string]string{{"id": "2"}}}, {Rel: "a", Images: []map[string]string{{"id": "3"}}}}, true, "t1")
	s.MarkSessionChanged()
	changes, global, token, changed := s.End()
	want := []keys.Change{{Rel: "a", Wide: true}, {Rel: "b", Images: []map[string]string{{"id": "1"}, {"id": "2"}}}}
	if !reflect.DeepEqual(changes, want) || !global || !changed || token != "t1" {
		t.Fatalf("%+v %v %v", changes, global, changed)
	}
	if changes, global, _, _ := s.End(); len(changes) != 0 || global || s.Active() {
		t.Fatal("End must reset the state")
	}
}

func TestQueueGoesWidePastTheImageLimit(t *testing.T) {
	var s State
	s.Begin("", "")
	img := make([]map[string]string, maxImages)
	for i := range img {
		img[i] = map[string]string{"id": "1"}
	}
	s.Queue([]keys.Change{{Rel: "a", Images: img}}, false, "t1")
	s.Queue([]keys.Change{{Rel: "a", Images: img[:1]}}, false, "t2")
	if changes, _, token, _ := s.End(); token != mixedSchema || !changes[0].Wide || changes[0].Images != nil {
		t.Fatalf("%+v", changes[0].Wide)
	}
}
