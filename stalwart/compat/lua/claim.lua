-- Take the next message off the first non-empty queue key and record it, in one step,
-- as unacknowledged (kombu's unacked hash and index) and held by this process.
-- KEYS: unacked hash, unacked index, held set, then the queue keys in kombu's order.
-- ARGV[1]: the time to index it at (kombu's clock: the client's).
-- Returns {queue key, message, delivery tag} or nil; the tag is false when the message
-- is not a readable kombu envelope (it is then not recorded: the caller quarantines it).
for i = 4, #KEYS do
  local item = redis.call('RPOP', KEYS[i])
  if item then
    local ok, envelope = pcall(cjson.decode, item)
    if ok and type(envelope) == 'table' and type(envelope.properties) == 'table' then
      local tag = envelope.properties.delivery_tag
      local info = envelope.properties.delivery_info
      if type(tag) == 'string' and type(info) == 'table' then
        local entry = '[' .. item .. ',' .. cjson.encode(info.exchange) .. ','
          .. cjson.encode(info.routing_key) .. ']'
        redis.call('ZADD', KEYS[2], ARGV[1], tag)
        redis.call('HSET', KEYS[1], tag, entry)
        redis.call('SADD', KEYS[3], tag)
        return {KEYS[i], item, tag}
      end
    end
    return {KEYS[i], item, false}
  end
end
return false
