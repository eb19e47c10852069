-- KEYS: stamps to delete. Every entry that recorded one of them becomes invalid.
-- Lua's unpack is bounded by the C stack (about 8,000 values on Redis' Lua
-- 5.1), so the keys are deleted in chunks: any number of KEYS works.
local n = 0
for i = 1, #KEYS, 1000 do
  n = n + redis.call('DEL', unpack(KEYS, i, math.min(i + 999, #KEYS)))
end
return n
