package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops"
	"github.com/cacheops/cacheops/lua"
)

// Kinds of cacheops keys, told apart by their shape after the hash tag:
// {tag}e:<hash> entries, {tag}e:<hash>:lock fill locks, {tag}s:<db>:<rel>…
// stamps and schemes sets.
const (
	kindEntry   = "entries"
	kindLock    = "fill locks"
	kindTable   = "table stamps"
	kindRow     = "row stamps"
	kindScheme  = "scheme stamps"
	kindSchemes = "schemes sets"
	kindDB      = "database stamps"
	kindWatch   = "watch heartbeats"
	kindOther   = "other"
)

func keyKind(key string) string {
	i := strings.LastIndexByte(key, '}')
	if i < 0 {
		return kindOther
	}
	rest := key[i+1:]
	switch {
	case strings.HasPrefix(rest, "e:") && strings.HasSuffix(rest, ":lock"):
		return kindLock
	case strings.HasPrefix(rest, "e:"):
		return kindEntry
	case strings.HasPrefix(rest, "w:"):
		return kindWatch
	case !strings.HasPrefix(rest, "s:"):
		return kindOther
	case strings.HasSuffix(rest, ":schemes"):
		return kindSchemes
	case strings.Contains(rest, "\":c:"):
		return kindRow
	case strings.Contains(rest, "\":k:"):
		return kindScheme
	case strings.HasSuffix(rest, ":*") || strings.HasSuffix(rest, ":#schema"):
		return kindDB
	default:
		return kindTable
	}
}

// sampleSize bounds the MEMORY USAGE calls per kind; larger kinds are
// estimated from their sample.
const sampleSize = 200

type kindStats struct {
	count        int64
	sampled      int64
	sampledBytes int64
}

func stats(ctx context.Context, w io.Writer, c *cacheops.Cache) error {
	var mu sync.Mutex
	byKind := map[string]*kindStats{}
	var heartbeats []string
	scan := func(ctx context.Context, node redis.Cmdable) error {
		iter := node.Scan(ctx, 0, escapeGlob(c.Prefix())+"*", 1000).Iterator()
		for iter.Next(ctx) {
			key := iter.Val()
			kind := keyKind(key)
			mu.Lock()
			ks := byKind[kind]
			if ks == nil {
				ks = &kindStats{}
				byKind[kind] = ks
			}
			ks.count++
			if kind == kindWatch {
				heartbeats = append(heartbeats, key)
			}
			sample := ks.sampled < sampleSize
			if sample {
				ks.sampled++
			}
			mu.Unlock()
			if sample {
				n, err := node.MemoryUsage(ctx, key).Result()
				if err != nil && err != redis.Nil {
					return err
				}
				mu.Lock()
				ks.sampledBytes += n
				mu.Unlock()
			}
		}
		return iter.Err()
	}
	var err error
	if cc, ok := c.Redis().(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return scan(ctx, n) })
	} else {
		err = scan(ctx, c.Redis())
	}
	if err != nil {
		return err
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	fmt.Fprintf(w, "prefix %q\n", c.Prefix())
	fmt.Fprintf(w, "%-16s %10s %12s\n", "kind", "keys", "memory")
	var total, bytes int64
	for _, k := range kinds {
		ks := byKind[k]
		est := ks.sampledBytes
		if ks.sampled > 0 && ks.count > ks.sampled {
			est = ks.sampledBytes * ks.count / ks.sampled
		}
		total += ks.count
		bytes += est
		mark := ""
		if ks.count > ks.sampled {
			mark = " (est.)"
		}
		fmt.Fprintf(w, "%-16s %10d %12s%s\n", k, ks.count, humanBytes(est), mark)
	}
	fmt.Fprintf(w, "%-16s %10d %12s\n", "total", total, humanBytes(bytes))
	return watchLags(ctx, w, c, heartbeats)
}

// watchLags prints the lag of each database's watcher: how old its last
// heartbeat is, by the clock of the Redis that holds it.
func watchLags(ctx context.Context, w io.Writer, c *cacheops.Cache, heartbeats []string) error {
	sort.Strings(heartbeats)
	store := lua.NewStore(c.Redis())
	for _, key := range heartbeats {
		beat, ok, now, err := store.Heartbeat(ctx, key)
		if err != nil {
			return err
		}
		if !ok {
			continue // uninstalled since the scan
		}
		db := key[strings.LastIndex(key, "}w:")+3:]
		lag := time.Duration(now-beat) * time.Microsecond
		fmt.Fprintf(w, "watcher of %s: lag %v\n", db, lag.Round(time.Millisecond))
	}
	return nil
}

// escapeGlob makes a prefix match itself in SCAN's pattern.
func escapeGlob(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)
	return r.Replace(s)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
