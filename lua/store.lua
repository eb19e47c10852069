-- The guarded store. ARGV[1]: token length; ARGV[2]: entry TTL (s);
-- ARGV[3]: the tokens the checked stamps held when the reader registered,
-- concatenated; ARGV[4], when given: the entry's value (tokens .. payload),
-- and then KEYS[1] is the entry and KEYS[2..] the stamps, else every KEY is
-- a stamp (the stamps of another hash slot than the entry's).
-- Stores the entry only if every stamp still holds the token the reader saw
-- before its query ran (the stale-fill guard). Returns 1 if stored (or, with
-- no entry, if every stamp held its token), else 0.
local len = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local tokens = ARGV[3]
local first = 1
if #ARGV > 3 then
  first = 2
end
for i = first, #KEYS do
  local j = i - first
  if redis.call('TYPE', KEYS[i]).ok ~= 'string' or
     redis.call('GET', KEYS[i]) ~= string.sub(tokens, j * len + 1, (j + 1) * len) then
    return 0
  end
end
if first == 2 then
  redis.call('SET', KEYS[1], ARGV[4], 'EX', ttl)
end
-- A stamp must outlive the entries that depend on it, or they miss early.
for i = first, #KEYS do
  if redis.call('TTL', KEYS[i]) < ttl then
    redis.call('EXPIRE', KEYS[i], ttl)
  end
end
return 1
