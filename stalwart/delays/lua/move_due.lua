-- Move due messages from the delay store into their broker lists, atomically.
--
-- Each message is the JSON list of Redis commands kombu would have sent to publish it
-- ([["lpush", list, envelope], ["pexpire", list, ms], ...], recorded at delay time
-- by stalwart.compat.capture), so a worker consumes a moved message like any other.
-- Safe to run from any number of processes at once: a message is pushed by exactly
-- one of them.
-- KEYS: 1 due times, 2 messages; ARGV: 1 batch size. Returns the number moved.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, id in ipairs(due) do
  local message = redis.call('HGET', KEYS[2], id)
  if message then
    for _, command in ipairs(cjson.decode(message)) do
      if command[1] == 'lpush' then
        redis.call('LPUSH', command[2], command[3])
      elseif command[1] == 'pexpire' then
        redis.call('PEXPIRE', command[2], command[3])
      end
    end
    redis.call('HDEL', KEYS[2], id)
  end
  redis.call('ZREM', KEYS[1], id)
end
return #due
