-- Claim due items for publishing through a non-Redis broker (AMQP), with a lease.
--
-- Claims whose lease expired (the claiming process died before confirming the
-- publish) go back to the schedule first: delivery is at least once.
-- KEYS: 1 schedule, 2 in-flight claims; ARGV: 1 batch size, 2 lease (s)
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local batch = tonumber(ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, batch)
for _, member in ipairs(expired) do
  redis.call('ZADD', KEYS[1], now, member)
  redis.call('ZREM', KEYS[2], member)
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, batch)
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), member)
  redis.call('ZREM', KEYS[1], member)
end
return due
