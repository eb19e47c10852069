-- KEYS[1]: entry; KEYS[2..n]: stamps.
-- ARGV[1]: token length; ARGV[2]: entry TTL (s); ARGV[3]: value (tokens .. payload).
-- Stores the entry only if every stamp still holds the token the reader saw
-- before its query ran (the stale-fill guard). Returns 1 if stored, else 0.
local len = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local v = ARGV[3]
for i = 2, #KEYS do
  if redis.call('TYPE', KEYS[i]).ok ~= 'string' or
     redis.call('GET', KEYS[i]) ~= string.sub(v, (i - 2) * len + 1, (i - 1) * len) then
    return 0
  end
end
redis.call('SET', KEYS[1], v, 'EX', ttl)
-- A stamp must outlive the entries that depend on it, or they miss early.
for i = 2, #KEYS do
  if redis.call('TTL', KEYS[i]) < ttl then
    redis.call('EXPIRE', KEYS[i], ttl)
  end
end
return 1
