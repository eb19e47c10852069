-- KEYS[1]: the schema stamp. ARGV[1]: a fresh token; ARGV[2]: TTL (s).
-- Returns the token the stamp holds, creating it with ARGV[1] when missing
-- (or holding a value of the wrong type, not written by cacheops).
if redis.call('TYPE', KEYS[1]).ok ~= 'string' then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return ARGV[1]
end
return redis.call('GET', KEYS[1])
