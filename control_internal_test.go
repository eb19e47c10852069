package cacheops

import (
	"reflect"
	"testing"
	"time"
)

func TestParseTables(t *testing.T) {
	got, err := parseTables(" *=off; public.posts=on,public.comments=30s ,audit_log=OFF")
	want := map[string]TableRule{
		"*":               {},
		"public.posts":    {Cache: true},
		"public.comments": {Cache: true, TTL: 30 * time.Second},
		"audit_log":       {},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"posts", "=on", "posts=maybe", "posts=-1s", "posts=0s"} {
		if _, err := parseTables(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

// The registered driver's Cache reads TTL and table rules from the
// environment; Options given in code win; a bad value fails New.
func TestOptionsFromEnvironment(t *testing.T) {
	t.Setenv("CACHEOPS_TTL", "90s")
	t.Setenv("CACHEOPS_TABLES", "*=off,post=on")
	o := Options{}
	if err := fromEnvironment(&o); err != nil || o.TTL != 90*time.Second || !reflect.DeepEqual(o.Tables, map[string]TableRule{"*": {}, "post": {Cache: true}}) {
		t.Fatalf("%+v %v", o, err)
	}
	o = Options{TTL: time.Minute, Tables: map[string]TableRule{}}
	if err := fromEnvironment(&o); err != nil || o.TTL != time.Minute || len(o.Tables) != 0 {
		t.Fatalf("the environment overrode Options: %+v", o)
	}
	t.Setenv("CACHEOPS_TABLES", "post=sometimes")
	if _, err := New(Options{}); err == nil {
		t.Fatal("New accepted a bad CACHEOPS_TABLES")
	}
	t.Setenv("CACHEOPS_TABLES", "")
	t.Setenv("CACHEOPS_TTL", "soon")
	if _, err := New(Options{}); err == nil {
		t.Fatal("New accepted a bad CACHEOPS_TTL")
	}
	t.Setenv("CACHEOPS_TTL", "")
	t.Setenv("CACHEOPS_LOCAL", "250ms")
	o = Options{}
	if err := fromEnvironment(&o); err != nil || o.Local.MaxStaleness != 250*time.Millisecond {
		t.Fatalf("CACHEOPS_LOCAL=250ms: %+v %v", o.Local, err)
	}
	o = Options{Local: LocalOptions{MaxStaleness: time.Second}}
	if err := fromEnvironment(&o); err != nil || o.Local.MaxStaleness != time.Second {
		t.Fatalf("CACHEOPS_LOCAL overrode Options: %+v", o.Local)
	}
	for _, bad := range []string{"soon", "-1s"} {
		t.Setenv("CACHEOPS_LOCAL", bad)
		if _, err := New(Options{}); err == nil {
			t.Fatalf("New accepted CACHEOPS_LOCAL=%s", bad)
		}
	}
}
