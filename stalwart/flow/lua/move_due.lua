-- Move due messages from the durable schedule into their broker lists, atomically.
--
-- Each member is "<length of list key>:<list key><kombu message envelope>", stored at
-- schedule time exactly as kombu's Redis transport would LPUSH it (priority list
-- included), so a worker consumes a moved message like any other. Safe to run from
-- any number of processes at once: a member is pushed by exactly one of them.
-- KEYS: 1 schedule; ARGV: 1 batch size. Returns the number moved.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, member in ipairs(due) do
  local colon = string.find(member, ':', 1, true)
  local length = tonumber(string.sub(member, 1, colon - 1))
  local list = string.sub(member, colon + 1, colon + length)
  redis.call('LPUSH', list, string.sub(member, colon + length + 1))
  redis.call('ZREM', KEYS[1], member)
end
return #due
