-- Every flow-control check of one task execution, atomically, in one round trip.
--
-- KEYS: 1 pause, 2 breaker, 3 unique lock, 4 concurrency holders, 5 quota counter,
--       6 throttle log, 7 throttle deferral hint
-- ARGV: 1 task id, 2 unique ttl (0 = off), 3 concurrency limit (0 = off), 4 lease (s),
--       5 quota limit (0 = off), 6 seconds until the quota period ends,
--       7 throttle limit (0 = off), 8 throttle period (s),
--       9 breaker reset (s, 0 = off), 10 breaker probe lease (s)
-- Returns {admitted (1/0), reason, wait seconds, redis time} (numbers as strings:
-- Redis truncates Lua numbers to integers). Nothing is consumed unless every check
-- passes; a denied task is told the earliest time worth coming back.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local id = ARGV[1]
local unique_ttl = tonumber(ARGV[2])
local conc_limit = tonumber(ARGV[3])
local lease = tonumber(ARGV[4])
local quota_limit = tonumber(ARGV[5])
local quota_left = tonumber(ARGV[6])
local th_limit = tonumber(ARGV[7])
local th_period = tonumber(ARGV[8])
local br_reset = tonumber(ARGV[9])
local br_probe = tonumber(ARGV[10])

local wait, reason = 0, ''
local function deny(why, seconds)
  if seconds < 0.001 then seconds = 0.001 end
  if seconds > wait then wait, reason = seconds, why end
end

if unique_ttl > 0 then
  local owner = redis.call('GET', KEYS[3])
  if owner and owner ~= id then
    return {0, 'duplicate', owner, tostring(now)}
  end
end

local paused = tonumber(redis.call('GET', KEYS[1]) or '0')
if paused > now then deny('retry_after', paused - now) end

local take_probe = false
if br_reset > 0 then
  local st = redis.call('HMGET', KEYS[2], 'state', 'opened_at', 'probe', 'probe_until')
  if st[1] == 'open' then
    local reopen = tonumber(st[2]) + br_reset
    if now < reopen then
      deny('breaker', reopen - now)
    elseif st[3] and st[3] ~= id and tonumber(st[4]) > now then
      deny('breaker', math.min(tonumber(st[4]) - now, br_reset))
    else
      take_probe = true
    end
  end
end

if conc_limit > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
  if not redis.call('ZSCORE', KEYS[4], id) and redis.call('ZCARD', KEYS[4]) >= conc_limit then
    local first = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
    deny('concurrency', math.min(tonumber(first[2]) - now, 1.0))
  end
end

if quota_limit > 0 then
  if tonumber(redis.call('GET', KEYS[5]) or '0') >= quota_limit then
    deny('quota', quota_left)
  end
end

if th_limit > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now - th_period)
  if redis.call('ZCARD', KEYS[6]) >= th_limit then
    local oldest = redis.call('ZRANGE', KEYS[6], 0, 0, 'WITHSCORES')
    local earliest = tonumber(oldest[2]) + th_period + 0.002
    if wait == 0 and earliest - now > th_period / th_limit then
      -- Spread the denied tasks over the coming slots instead of waking them together
      -- (a task whose slot frees within one interval just comes back then).
      local hint = tonumber(redis.call('GET', KEYS[7]) or '0')
      if hint < earliest then hint = earliest end
      local ttl = math.ceil((hint - now + th_period) * 1000) + 1000
      redis.call('SET', KEYS[7], tostring(hint + th_period / th_limit), 'PX', ttl)
      earliest = hint
    end
    deny('throttle', earliest - now)
  end
end

if unique_ttl > 0 then
  local ttl = math.ceil(unique_ttl + wait)
  redis.call('SET', KEYS[3], id, 'EX', ttl)
end

if wait > 0 then
  return {0, reason, tostring(wait), tostring(now)}
end

if take_probe then
  redis.call('HSET', KEYS[2], 'probe', id, 'probe_until', tostring(now + br_probe))
end
if conc_limit > 0 then
  redis.call('ZADD', KEYS[4], now + lease, id)
  redis.call('PEXPIRE', KEYS[4], math.ceil(lease * 2000))
end
if quota_limit > 0 then
  redis.call('INCR', KEYS[5])
  redis.call('EXPIRE', KEYS[5], math.ceil(quota_left) + 86400)
end
if th_limit > 0 then
  redis.call('ZADD', KEYS[6], now, id .. '@' .. tostring(now))
  redis.call('PEXPIRE', KEYS[6], math.ceil(th_period * 1000) + 1000)
end
return {1, '', '0', tostring(now)}
