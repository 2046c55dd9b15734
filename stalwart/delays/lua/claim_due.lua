-- Claim due messages for publishing through a non-Redis broker (AMQP), with a lease.
--
-- Claims whose lease expired (the claiming process died before confirming the
-- publish) go back to the store first: delivery is at least once.
-- KEYS: 1 due times, 2 in-flight claims, 3 messages; ARGV: 1 batch size, 2 lease (s)
-- Returns a flat list: id1, message1, id2, message2, ...
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local batch = tonumber(ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, batch)
for _, id in ipairs(expired) do
  redis.call('ZADD', KEYS[1], now, id)
  redis.call('ZREM', KEYS[2], id)
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, batch)
local claimed = {}
for _, id in ipairs(due) do
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), id)
  redis.call('ZREM', KEYS[1], id)
  local message = redis.call('HGET', KEYS[3], id)
  if message then
    table.insert(claimed, id)
    table.insert(claimed, message)
  else
    redis.call('ZREM', KEYS[2], id)
  end
end
return claimed
