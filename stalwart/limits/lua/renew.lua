-- Extend the concurrency leases this process holds (only those it still holds).
-- KEYS: holder sets; ARGV: 1 lease (s), then one task id per key
local t = redis.call('TIME')
local until_ = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[1])
for i, k in ipairs(KEYS) do
  redis.call('ZADD', k, 'XX', until_, ARGV[i + 1])
end
return #KEYS
