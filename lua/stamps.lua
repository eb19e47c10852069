-- KEYS: stamps. ARGV[1]: a fresh token; ARGV[2]: stamp TTL (s).
-- Creates the stamps that are missing and returns every stamp's token,
-- concatenated in KEYS order, for a later store.
local tokens = {}
for i = 1, #KEYS do
  local s = redis.call('GET', KEYS[i])
  if not s then
    s = ARGV[1]
    redis.call('SET', KEYS[i], s, 'EX', ARGV[2])
  end
  tokens[i] = s
end
return table.concat(tokens)
