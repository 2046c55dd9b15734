-- What one finished (or ended early) execution gives back, in one round trip.
--
-- KEYS: 1 concurrency holders, 2 unique lock, 3 breaker, 4 pause
-- ARGV: 1 task id, 2 release concurrency (0/1), 3 release unique (0/1),
--       4 breaker result ('', 'ok', 'fail'), 5 breaker failure threshold,
--       6 breaker reset (s), 7 pause seconds (0 = none)
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local id = ARGV[1]

if ARGV[2] == '1' then redis.call('ZREM', KEYS[1], id) end
if ARGV[3] == '1' and redis.call('GET', KEYS[2]) == id then redis.call('DEL', KEYS[2]) end

local result = ARGV[4]
if result ~= '' then
  local st = redis.call('HMGET', KEYS[3], 'state', 'probe')
  redis.call('HSET', KEYS[3], 'threshold', ARGV[5], 'reset', ARGV[6])
  if st[1] == 'open' then
    -- Only the half-open probe decides; late results of earlier runs do not.
    if st[2] == id then
      if result == 'ok' then
        redis.call('HSET', KEYS[3], 'state', 'closed', 'failures', 0, 'changed_at', tostring(now))
      else
        redis.call('HSET', KEYS[3], 'opened_at', tostring(now), 'changed_at', tostring(now))
      end
      redis.call('HDEL', KEYS[3], 'probe', 'probe_until')
    end
  elseif result == 'ok' then
    redis.call('HSET', KEYS[3], 'failures', 0)
  else
    local failures = redis.call('HINCRBY', KEYS[3], 'failures', 1)
    if failures >= tonumber(ARGV[5]) then
      redis.call('HSET', KEYS[3], 'state', 'open', 'opened_at', tostring(now),
        'changed_at', tostring(now))
    end
  end
end

local pause = tonumber(ARGV[7])
if pause > 0 then
  local current = tonumber(redis.call('GET', KEYS[4]) or '0')
  if now + pause > current then
    redis.call('SET', KEYS[4], tostring(now + pause), 'PX', math.ceil(pause * 1000))
  end
end
return 1
