package lua

import "strings"

// slotCount is the number of hash slots of a Redis Cluster.
const slotCount = 16384

// Slot returns the Redis Cluster hash slot of key: CRC16 of its hash tag
// (the text between the first "{" and the next "}", when not empty) or of
// the whole key. Keys are grouped by it so that no command or script ever
// spans two slots, whatever the names inside the keys.
func Slot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16(key) % slotCount)
}

// crc16 is CRC-16/XMODEM, the checksum Redis Cluster hashes keys with.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^s[i]]
	}
	return crc
}

var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for j := 0; j < 8; j++ {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// sameSlot reports whether keys all hash to one slot: then a step is one
// command, with no grouping (a one-table read, on the driver's layout).
func sameSlot(keys []string) bool {
	first := Slot(keys[0])
	for _, k := range keys[1:] {
		if Slot(k) != first {
			return false
		}
	}
	return true
}

// slotGroup is the positions, in a caller's key list, of the keys of one
// slot, in their order.
type slotGroup struct {
	slot int
	idx  []int
}

// bySlot groups positions 0..n-1 of keys by slot, in order of first
// appearance.
func bySlot(n int, key func(int) string) []slotGroup {
	var groups []slotGroup
	at := map[int]int{}
	for i := 0; i < n; i++ {
		s := Slot(key(i))
		g, ok := at[s]
		if !ok {
			g = len(groups)
			at[s] = g
			groups = append(groups, slotGroup{slot: s})
		}
		groups[g].idx = append(groups[g].idx, i)
	}
	return groups
}

func pick(keys []string, idx []int) []string {
	out := make([]string, len(idx))
	for i, j := range idx {
		out[i] = keys[j]
	}
	return out
}
