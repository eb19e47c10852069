-- The miss path, before the query runs: register the reader's schemes, then
-- read (creating where missing) the stamps it depends on.
-- KEYS[1..n]: schemes sets; KEYS[n+1..2n]: the table stamp of each set's
-- relation; KEYS[2n+1..]: the stamps to read.
-- ARGV[1]: a fresh token; ARGV[2]: TTL (s); ARGV[3]: n; ARGV[4..3+n]: how
-- many schemes each set gets; then the schemes.
-- A schemes set created afresh may have replaced a lost one whose schemes
-- writers no longer see: its relation's table stamp is deleted, so that no
-- entry filled under the lost set survives. A key holding a value of the
-- wrong type (not written by cacheops) is deleted and taken as missing.
local function kind(k)
  return redis.call('TYPE', k).ok
end
local n = tonumber(ARGV[3])
local pos = 4 + n
for i = 1, n do
  local count = tonumber(ARGV[3 + i])
  local t = kind(KEYS[i])
  if t ~= 'set' and t ~= 'none' then
    redis.call('DEL', KEYS[i])
    t = 'none'
  end
  for j = 1, count do
    redis.call('SADD', KEYS[i], ARGV[pos])
    pos = pos + 1
  end
  redis.call('EXPIRE', KEYS[i], ARGV[2])
  if t == 'none' then
    redis.call('DEL', KEYS[n + i])
  end
end
local tokens = {}
for i = 2 * n + 1, #KEYS do
  local t = kind(KEYS[i])
  local s = false
  if t == 'string' then
    s = redis.call('GET', KEYS[i])
    if #s ~= #ARGV[1] then
      s = false
    end
  end
  if not s then
    s = ARGV[1]
    redis.call('SET', KEYS[i], s, 'EX', ARGV[2])
  end
  tokens[#tokens + 1] = s
end
return table.concat(tokens)
