package engine

import "strings"

// scalarFunctionNames maps each Clean Rooms ScalarFunctions value to the
// DuckDB function names (as they appear in DuckDB's syntax tree) that
// implement it. CAST and CONVERT are CAST nodes (x::t, CAST(x AS t)) and
// COALESCE is an OPERATOR_COALESCE node, so they have no function name here;
// EXTRACT(part FROM x) parses to date_part; CURRENT_DATE and GETDATE may also
// appear as the bare keywords current_date / current_timestamp. TO_NUMBER has
// no DuckDB function: use CAST.
var scalarFunctionNames = map[string][]string{
	"ABS":          {"abs"},
	"CEILING":      {"ceil", "ceiling"},
	"CURRENT_DATE": {"current_date", "today"},
	"DATEADD":      {"date_add"},
	"EXTRACT":      {"date_part", "datepart"},
	"FLOOR":        {"floor"},
	"GETDATE":      {"now", "get_current_timestamp", "current_timestamp", "transaction_timestamp"},
	"LN":           {"ln"},
	"LOG":          {"log", "log10"},
	"LOWER":        {"lower", "lcase"},
	"ROUND":        {"round"},
	"RTRIM":        {"rtrim"},
	"SQRT":         {"sqrt"},
	"SUBSTRING":    {"substring", "substr"},
	"TO_CHAR":      {"strftime"},
	"TO_DATE":      {"strptime"},
	"TO_TIMESTAMP": {"to_timestamp", "strptime"},
	"TRIM":         {"trim", "ltrim"},
	"TRUNC":        {"trunc", "date_trunc"},
	"UPPER":        {"upper", "ucase"},
}

// keywordFunctions are bare keywords DuckDB parses as column references and
// binds as functions when no column has the name.
var keywordFunctions = map[string]string{
	"current_date":      "CURRENT_DATE",
	"current_timestamp": "GETDATE",
}

// arithmeticOperators are the operators usable on dimension values and on
// aggregate results under AGGREGATION, and in WHERE under LIST ("mathematical
// operators").
var arithmeticOperators = map[string]bool{"+": true, "-": true, "*": true, "/": true, "//": true, "%": true}

// literalFunctions may appear inside constant expressions (DuckDB expands
// INTERVAL literals to them).
var literalFunctions = map[string]bool{
	"to_years": true, "to_months": true, "to_days": true, "to_hours": true, "to_minutes": true,
	"to_seconds": true, "to_milliseconds": true, "to_microseconds": true, "to_weeks": true,
	"to_quarters": true, "to_decades": true, "to_centuries": true, "to_millennia": true,
	"trunc": true, "+": true, "-": true, "*": true, "/": true,
}

// countFunctions return counts, not values of their arguments: their result
// does not carry the lineage of the columns they count (CUSTOM rule).
var countFunctions = map[string]bool{
	"count": true, "count_star": true, "approx_count_distinct": true, "count_if": true, "countif": true,
	"regr_count": true,
}

// customFunctions is the allow-list of functions (scalar, aggregate and
// window) a CUSTOM-rule query may call. It deliberately leaves out anything
// that reads files, settings, variables, sequences, the catalog or the
// environment, executes or serializes SQL, sleeps, raises errors, changes
// state, or takes a function name or lambda (list_aggregate, list_transform…).
var customFunctions = setOf(`
+ - * / // % ** ^ || & | << >> ~ xor @ ~~ !~~ ~~* !~~* ~~~ ^@ ->> && @> <@
abs acos acosh asin asinh atan atan2 atanh cbrt ceil ceiling cos cosh cot degrees even exp factorial floor
gamma gcd greatest greatest_common_divisor isfinite isinf isnan lcm least least_common_multiple lgamma ln log
log10 log2 mod nextafter pi pow power radians round round_even roundbankers sign signbit sin sinh sqrt tan tanh
trunc fdiv fmod divide multiply add subtract bit_count bit_length get_bit set_bit bit_position
ascii char_length character_length chr concat concat_ws contains ends_with format printf hamming mismatches
instr jaccard jaro_similarity jaro_winkler_similarity damerau_levenshtein editdist3 levenshtein lcase left
left_grapheme len length length_grapheme lower lpad ltrim md5 md5_number md5_number_lower md5_number_upper
nfc_normalize octet_length ord position prefix regexp_escape regexp_extract regexp_extract_all
regexp_full_match regexp_matches regexp_replace regexp_split_to_array repeat replace reverse right
right_grapheme rpad rtrim sha1 sha256 split split_part starts_with str_split str_split_regex string_split
string_split_regex string_to_array strip_accents strlen strpos substr substring substring_grapheme suffix
translate trim ucase unicode upper url_decode url_encode base64 to_base64 from_base64 hex unhex to_hex
from_hex bin unbin to_binary from_binary encode decode like_escape not_like_escape ilike_escape
not_ilike_escape hash nullif ifnull array_to_string bar format_bytes formatreadabledecimalsize
formatreadablesize
age century date_diff date_part date_sub date_trunc datediff datepart datesub datetrunc date_add day dayname
dayofmonth dayofweek dayofyear decade epoch epoch_ms epoch_ns epoch_us era hour isodow isoyear julian
last_day make_date make_time make_timestamp make_timestamp_ms make_timestamp_ns make_timestamptz microsecond
millennium millisecond minute month monthname nanosecond quarter second strftime strptime try_strptime
time_bucket timezone timezone_hour timezone_minute to_centuries to_days to_decades to_hours to_microseconds
to_millennia to_milliseconds to_minutes to_months to_quarters to_seconds to_timestamp to_weeks to_years week
weekday weekofyear year yearweek current_date today now get_current_timestamp get_current_time
transaction_timestamp current_localtime current_localtimestamp days_in_month
list_value list_pack array_value list_extract list_element array_extract element_at list_slice array_slice
list_concat list_cat array_concat array_cat list_contains list_has array_contains array_has list_has_all
list_has_any array_has_all array_has_any list_position list_indexof array_position array_indexof
list_distinct array_distinct list_unique array_unique list_sort array_sort list_reverse_sort
array_reverse_sort list_resize array_resize array_length cardinality flatten list_zip array_zip
list_intersect array_intersect list_append list_prepend array_append array_prepend array_push_back
array_push_front list_reverse array_reverse list_sum list_avg list_min list_max list_count list_first
list_last list_median list_mode list_product list_string_agg list_bool_and list_bool_or
struct_pack struct_extract struct_extract_at row struct_insert struct_keys struct_values struct_concat
map map_extract map_extract_value map_keys map_values map_entries map_from_entries map_concat map_contains
to_json json_object json_array json_extract json_extract_string json_extract_path json_extract_path_text
json_value json_exists json_keys json_type json_valid json_array_length json_contains json_quote
json_merge_patch json_pretty json_structure json_transform json_transform_strict from_json from_json_strict
json row_to_json array_to_json typeof uuid gen_random_uuid uuidv4
any_value approx_count_distinct approx_quantile approx_top_k arbitrary arg_max arg_min argmax argmin
arg_max_null arg_min_null max_by min_by array_agg avg bit_and bit_or bit_xor bool_and bool_or corr count
count_if countif count_star covar_pop covar_samp entropy favg first fsum group_concat histogram kahan_sum
kurtosis kurtosis_pop last list listagg mad max mean median min mode product quantile quantile_cont
quantile_disc regr_avgx regr_avgy regr_count regr_intercept regr_r2 regr_slope regr_sxx regr_sxy regr_syy
reservoir_quantile sem skewness stddev stddev_pop stddev_samp string_agg sum sumkahan var_pop var_samp
variance geomean geometric_mean weighted_avg wavg json_group_array json_group_object
row_number rank dense_rank rank_dense percent_rank cume_dist ntile lag lead first_value last_value nth_value
fill
`)

// aggregationFunctions are the aggregates of the AGGREGATION rule, by DuckDB
// name.
var aggregationFunctions = map[string]bool{"count": true, "sum": true, "avg": true, "count_star": true}

// knownAggregates are DuckDB aggregate functions, for telling a user that an
// aggregate is not one of the allowed ones.
var knownAggregates = setOf(`
any_value approx_count_distinct approx_quantile approx_top_k arbitrary arg_max arg_min argmax argmin
arg_max_null arg_min_null arg_max_nulls_last arg_min_nulls_last max_by min_by array_agg avg bit_and bit_or
bit_xor bitstring_agg bool_and bool_or corr count count_if countif count_star covar_pop covar_samp entropy
favg first fsum group_concat histogram histogram_exact kahan_sum kurtosis kurtosis_pop last list listagg mad
max mean median min mode product quantile quantile_cont quantile_disc regr_avgx regr_avgy regr_count
regr_intercept regr_r2 regr_slope regr_sxx regr_sxy regr_syy reservoir_quantile sem skewness stddev
stddev_pop stddev_samp string_agg sum sum_no_overflow sumkahan var_pop var_samp variance geomean
geometric_mean weighted_avg wavg json_group_array json_group_object json_group_structure first_value
last_value
`)

func setOf(s string) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Fields(s) {
		m[strings.ToLower(f)] = true
	}
	return m
}
