package redis

import goredis "github.com/redis/go-redis/v9"

// sendScript puts one member on a channel unless it is full, after dropping
// expired members; doing all of it in one script keeps concurrent senders
// from overfilling the channel (channels_redis checks then adds, which can
// overshoot a little).
//
// KEYS[1] channel set; ARGV member, score (now), expiry cutoff, capacity,
// EXPIRE seconds. Returns {added (0/1), expired members removed}.
var sendScript = goredis.NewScript(`
local expired = redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[3])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
	return {0, expired}
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {1, expired}
`)

// groupSendScript is channels_redis' group_send script with expiry folded
// in and a per-key result, so drops can be counted per member.
//
// KEYS channel sets (one host); ARGV members (one per key), capacities (one
// per key), score (now), expiry cutoff, EXPIRE seconds. Returns {expired
// members removed, then 1 for each key delivered or 0 for each key full}.
var groupSendScript = goredis.NewScript(`
local n = #KEYS
local now, cutoff, ttl = ARGV[2*n+1], ARGV[2*n+2], ARGV[2*n+3]
local out = {0}
for i = 1, n do
	out[1] = out[1] + redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, cutoff)
	if redis.call('ZCARD', KEYS[i]) < tonumber(ARGV[n+i]) then
		redis.call('ZADD', KEYS[i], now, ARGV[i])
		redis.call('EXPIRE', KEYS[i], ttl)
		out[i+1] = 1
	else
		out[i+1] = 0
	end
end
return out
`)

// flushScript deletes every key under a pattern, as channels_redis' flush.
var flushScript = goredis.NewScript(`
local keys = redis.call('KEYS', ARGV[1])
for i = 1, #keys, 5000 do
	redis.call('DEL', unpack(keys, i, math.min(i + 4999, #keys)))
end
return #keys
`)
