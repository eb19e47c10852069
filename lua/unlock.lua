-- KEYS[1]: a fill lock; ARGV[1]: the holder's token.
-- Releases the lock only if the caller still holds it.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
