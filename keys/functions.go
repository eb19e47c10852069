package keys

// stableBuiltins are the STABLE functions of pg_catalog whose result depends
// only on their arguments and on settings that are part of the entry
// namespace (TimeZone, DateStyle, IntervalStyle, lc_*). Every other STABLE
// builtin reads state that changes without a write cacheops sees (the clock,
// arbitrary settings, the catalogs, statistics), so it is never cached.
var stableBuiltins = map[string]bool{
	"to_char": true, "to_date": true, "to_timestamp": true, "to_number": true,
	"date_trunc": true, "date_part": true, "extract": true, "timezone": true,
	"date_add": true, "date_subtract": true, "make_timestamptz": true,
	"format": true, "concat": true, "concat_ws": true,
	"to_json": true, "to_jsonb": true, "row_to_json": true, "array_to_json": true,
	"json_agg": true, "jsonb_agg": true, "json_object_agg": true, "jsonb_object_agg": true,
	"json_build_object": true, "jsonb_build_object": true, "json_build_array": true, "jsonb_build_array": true,
	"jsonb_path_query_tz": true, "jsonb_path_exists_tz": true, "jsonb_path_match_tz": true,
	"jsonb_path_query_array_tz": true, "jsonb_path_query_first_tz": true,
	"generate_series": true, "string_agg": true, "array_agg": true,
	"to_tsvector": true, "to_tsquery": true, "plainto_tsquery": true, "phraseto_tsquery": true,
	"websearch_to_tsquery": true, "ts_headline": true,
}

// pureVolatiles are volatile functions outside pg_catalog that are known to
// write no table, so calling them does not invalidate the database.
var pureVolatiles = map[string]bool{
	"uuid_generate_v1": true, "uuid_generate_v1mc": true, "uuid_generate_v4": true,
	"gen_random_bytes": true, "gen_salt": true,
}

// sessionFunctions change session settings.
var sessionFunctions = map[string]bool{"set_config": true}
