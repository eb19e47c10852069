-- KEYS: stamps to delete. Every entry that recorded one of them becomes invalid.
return redis.call('DEL', unpack(KEYS))
