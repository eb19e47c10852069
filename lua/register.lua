-- The miss path, before the query runs: register the reader's schemes, then
-- read (creating where missing) the stamps it depends on.
-- KEYS[1..n]: schemes sets; KEYS[n+1..2n]: the table stamp of each set's
-- relation; KEYS[2n+1..]: the stamps to read.
-- ARGV[1]: a fresh token; ARGV[2]: TTL (s); ARGV[3]: n; ARGV[4..3+n]: how
-- many schemes each set gets; then the schemes.
-- A schemes set created afresh may have replaced a lost one whose schemes
-- writers no longer see: its relation's table stamp is deleted, so that no
-- entry filled under the lost set survives.
local n = tonumber(ARGV[3])
local pos = 4 + n
for i = 1, n do
  local count = tonumber(ARGV[3 + i])
  local fresh = redis.call('EXISTS', KEYS[i]) == 0
  for j = 1, count do
    redis.call('SADD', KEYS[i], ARGV[pos])
    pos = pos + 1
  end
  redis.call('EXPIRE', KEYS[i], ARGV[2])
  if fresh then
    redis.call('DEL', KEYS[n + i])
  end
end
local tokens = {}
for i = 2 * n + 1, #KEYS do
  local s = redis.call('GET', KEYS[i])
  if not s then
    s = ARGV[1]
    redis.call('SET', KEYS[i], s, 'EX', ARGV[2])
  end
  tokens[#tokens + 1] = s
end
return table.concat(tokens)
