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

// groupScript is a whole GroupSend on the group's host in one round trip:
// it drops expired memberships, reads the group, and writes one member per
// channel set on this host, as groupSendScript does, completing the message
// the caller encoded (encodeHead) with the "__asgi_channel__" list of that
// set's channels. It returns the members the caller delivers itself: its
// own process-local channels, and those whose set lives on another host
// (sharding; channels_redis' consistent hash of the non-local name, CRC-32
// computed here). It writes keys it was not given, which standalone Redis
// allows (the layer never runs on Redis Cluster, nor does channels_redis).
//
// A group larger than ARGV[11] is only read and returned whole, as "other"
// members: looking at each name in Lua costs Redis about 1 µs per member
// (three times its whole cost per delivery in P2's 1,000-member room), more
// than the second round trip it saves.
//
// KEYS[1] group set; ARGV key prefix, own suffix ("."+client+"!"), message
// head, score (now), group cutoff, message cutoff, capacity, EXPIRE
// seconds, number of hosts, this host (0-based), most members handled here.
// Returns {expired members removed, channels delivered, channels full, own
// channels, other channels}.
var groupScript = goredis.NewScript(`
local prefix, own, head, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local cutoff, cap, ttl = ARGV[6], tonumber(ARGV[7]), ARGV[8]
local nhosts, here = tonumber(ARGV[9]), tonumber(ARGV[10])

local crc
local function host(name)
	if not crc then
		crc = {}
		for i = 0, 255 do
			local c = i
			for _ = 1, 8 do
				if bit.band(c, 1) == 1 then c = bit.bxor(bit.rshift(c, 1), 0xEDB88320) else c = bit.rshift(c, 1) end
			end
			crc[i] = c
		end
	end
	local c = bit.bnot(0)
	for i = 1, #name do
		c = bit.bxor(bit.rshift(c, 8), crc[bit.band(bit.bxor(c, string.byte(name, i)), 0xFF)])
	end
	return math.floor(bit.band(bit.bnot(c), 0xFFF) / (4096 / nhosts))
end

local function str(s)
	local n = #s
	if n < 32 then return string.char(0xa0 + n) .. s end
	if n < 256 then return string.char(0xd9, n) .. s end
	if n < 65536 then return string.char(0xda, math.floor(n / 256), n % 256) .. s end
	return string.char(0xdb, math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256) .. s
end

local function list(t)
	local n = #t
	local out = {}
	if n < 16 then out[1] = string.char(0x90 + n)
	elseif n < 65536 then out[1] = string.char(0xdc, math.floor(n / 256), n % 256)
	else out[1] = string.char(0xdd, math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256) end
	for i = 1, n do out[i + 1] = str(t[i]) end
	return table.concat(out)
end

redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[5])
if redis.call('ZCARD', KEYS[1]) > tonumber(ARGV[11]) then
	return {0, 0, 0, {}, redis.call('ZRANGE', KEYS[1], 0, -1)}
end
local mine, other, sets, order, hosts = {}, {}, {}, {}, {}
for _, ch in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
	if string.find(ch, own, 1, true) then -- own ends in '!', which a name has once
		mine[#mine + 1] = ch
	else
		local bang = string.find(ch, '!', 1, true)
		local name = ch
		if bang then name = string.sub(ch, 1, bang) end
		local h = here
		if nhosts > 1 then
			h = hosts[name]
			if h == nil then h = host(name); hosts[name] = h end
		end
		if h ~= here then
			other[#other + 1] = ch
		else
			local s = sets[name]
			if not s then s = {}; sets[name] = s; order[#order + 1] = name end
			s[#s + 1] = ch
		end
	end
end

local expired, sent, full = 0, 0, 0
for _, name in ipairs(order) do
	local key, chans = prefix .. name, sets[name]
	expired = expired + redis.call('ZREMRANGEBYSCORE', key, 0, cutoff)
	if redis.call('ZCARD', key) < cap then
		redis.call('ZADD', key, now, head .. str('__asgi_channel__') .. list(chans))
		redis.call('EXPIRE', key, ttl)
		sent = sent + #chans
	else
		full = full + #chans
	end
end
return {expired, sent, full, mine, other}
`)

// popScript pops up to ARGV[1] members from KEYS, the oldest first, set by
// set: the drain loop's batch after its BZPOPMIN. Returns member, score
// pairs.
var popScript = goredis.NewScript(`
local n = tonumber(ARGV[1])
local out = {}
for _, key in ipairs(KEYS) do
	if n <= 0 then break end
	local z = redis.call('ZPOPMIN', key, n)
	for i = 1, #z do out[#out + 1] = z[i] end
	n = n - #z / 2
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
