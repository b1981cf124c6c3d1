// Package redis is the distributed channel layer on Redis, with the data
// model of Django Channels' channels_redis 4.x (RedisChannelLayer), so a
// Django project and the hub can share one Redis and exchange messages.
//
// The layout, byte for byte what channels_redis reads and writes:
//
//   - A channel is a sorted set at Prefix+name ("asgi" + "thumbnails" is
//     "asgithumbnails"), scored by send time, expiring with EXPIRE. Each member
//     is 12 random bytes (so equal messages stay distinct set members)
//     followed by the message as msgpack, optionally Fernet-encrypted.
//   - A process-local channel "specific.<client>!<id>" is stored in the set
//     of its non-local part "specific.<client>!", with the full name in the
//     message's "__asgi_channel__" key (a list of names when GroupSend bundles
//     several channels of one process into one member). Each process drains
//     its own sets with one blocking BZPOPMIN loop per host and fans the
//     messages out to bounded local queues, as channels_redis does.
//   - A group is a sorted set at Prefix+":group:"+name of channel names
//     scored by join time; members older than GroupExpiry are dropped.
//   - With several hosts, groups and process-local channels live on the
//     host chosen by channels_redis' consistent hash (CRC-32 of the name,
//     12 bits, divided into the ring); fixed-name channels are written and
//     read round-robin.
//
// Capacity is checked inside Lua scripts, so concurrent senders cannot
// overfill a channel. Delivery is at-most-once: a message popped by a process
// that dies before handing it out is lost.
package redis
