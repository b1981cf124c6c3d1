package broker

import (
	"strconv"
	"strings"

	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/hooks/storage/bolt"
)

// boltStore is mochi's bbolt storage hook with one repair: in v2.7.9 the
// hook stores in-flight messages without their packet id (its pebble and
// badger siblings keep it), so after a restart the broker resends them with
// id 0, the client rejects the packet as a protocol violation, and the
// session never recovers. The id is still in the storage key,
// "if_<client>:<packet id>", so it is restored from there.
type boltStore struct {
	*bolt.Hook
}

// StoredInflightMessages implements mochi's storage hook.
func (h boltStore) StoredInflightMessages() ([]storage.Message, error) {
	v, err := h.Hook.StoredInflightMessages()
	for i := range v {
		if v[i].PacketID != 0 {
			continue
		}
		_, id, ok := cutLast(v[i].ID, ":")
		if n, perr := strconv.ParseUint(id, 10, 16); ok && perr == nil {
			v[i].PacketID = uint16(n)
		}
	}
	return v, err
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
