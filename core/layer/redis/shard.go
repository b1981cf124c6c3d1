package redis

import (
	"hash/crc32"
	"strings"
)

// consistentHash maps a name to one of n hosts exactly as channels_redis'
// _consistent_hash does: CRC-32 (binascii.crc32, the IEEE polynomial) of
// the UTF-8 name, its low 12 bits, scaled down to the ring.
func consistentHash(name string, n int) int {
	if n <= 1 {
		return 0
	}
	v := crc32.ChecksumIEEE([]byte(name)) & 0xFFF
	return int(float64(v) / (4096 / float64(n)))
}

// nonLocalName returns the part of a channel name up to and including '!',
// the name of the set a process-local channel is stored in; other names are
// returned whole.
func nonLocalName(channel string) string {
	if i := strings.IndexByte(channel, '!'); i >= 0 {
		return channel[:i+1]
	}
	return channel
}

// isLocal reports whether channel is process-local ("name!id").
func isLocal(channel string) bool { return strings.IndexByte(channel, '!') >= 0 }
