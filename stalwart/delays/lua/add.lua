-- Put messages in the delay store, due ARGV[1] seconds from now (Redis clock).
-- KEYS: 1 due times (sorted set: task id -> due), 2 messages (hash: task id -> message)
-- ARGV: 1 delay (s), then pairs of (task id, message)
local t = redis.call('TIME')
local due = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], due, ARGV[i])
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
return tostring(due)
