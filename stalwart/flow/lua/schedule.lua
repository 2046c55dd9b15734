-- Put messages on the durable schedule, due ARGV[1] seconds from now (Redis clock).
-- KEYS: 1 schedule (sorted set); ARGV: 1 delay (s), 2.. members
local t = redis.call('TIME')
local due = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], due, ARGV[i])
end
return tostring(due)
