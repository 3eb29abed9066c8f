package cleanrooms

import (
	"context"
	"slices"
	"strings"
	"testing"

	api "github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
)

func TestFallbackAnalyzerReferencedTables(t *testing.T) {
	cases := []struct {
		sql  string
		want []string
	}{
		{"SELECT * FROM a", []string{"a"}},
		{"select x from A join b on a.id = b.id left outer join c using (id)", []string{"A", "b", "c"}},
		{"SELECT * FROM a AS x, b y, c WHERE 1 = 1", []string{"a", "b", "c"}},
		{"SELECT * FROM a x INNER JOIN b ON x.id = b.id GROUP BY 1", []string{"a", "b"}},
		{`SELECT * FROM "Quoted Table" q JOIN ` + "`other`" + ` o ON q.id = o.id`, []string{"Quoted Table", "other"}},
		{"WITH t AS (SELECT id FROM a), u (x) AS (SELECT x FROM b) SELECT * FROM t JOIN u ON t.id = u.x JOIN c ON c.id = t.id", []string{"a", "b", "c"}},
		{"WITH RECURSIVE r AS (SELECT 1 FROM a) SELECT * FROM r", []string{"a"}},
		{"SELECT EXTRACT(year FROM d), SUBSTRING(s FROM 2 FOR 3), TRIM(BOTH ' ' FROM s) FROM a", []string{"a"}},
		{"SELECT * FROM (SELECT id FROM a) sub JOIN b ON sub.id = b.id", []string{"a", "b"}},
		{"SELECT * FROM a WHERE id IN (SELECT id FROM b WHERE c = 'FROM x') -- FROM y\n/* JOIN z */", []string{"a", "b"}},
		{"SELECT * FROM a JOIN a ON 1=1 JOIN A ON 1=1;", []string{"a"}},
		{"(SELECT id FROM a) UNION (SELECT id FROM b)", []string{"a", "b"}},
		{"SELECT * FROM unnest(array[1,2]) JOIN a ON true", []string{"a"}},
		{"SELECT * FROM db.a", []string{"db.a"}},
		{"SELECT x::int FROM a WHERE y = :p", []string{"a"}},
	}
	for _, c := range cases {
		got, err := fallbackAnalyzer{}.ReferencedTables(context.Background(), c.sql)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%q: got %v, %v; want %v", c.sql, got, err, c.want)
		}
	}
	for _, bad := range []string{
		"", "DELETE FROM a", "INSERT INTO a SELECT * FROM b", "WITH x AS (SELECT 1 FROM a) DELETE FROM a",
		"SELECT 1 FROM a; DROP TABLE a", "SELECT 'unterminated FROM a", "SELECT /* open", "UPDATE a SET x = 1", "EXPLAIN SELECT 1 FROM a",
	} {
		if got, err := (fallbackAnalyzer{}).ReferencedTables(context.Background(), bad); err == nil {
			t.Errorf("%q accepted: %v", bad, got)
		}
	}
}

func TestSQLParameters(t *testing.T) {
	got, err := sqlParameters(`SELECT :a, x::date, ':b', ":c", :A -- :d
	/* :e */ FROM t WHERE y = :f_1 AND z = :a`)
	if err != nil || !slices.Equal(got, []string{"a", "f_1"}) {
		t.Errorf("got %v, %v", got, err)
	}
}

func TestCheckParameterValue(t *testing.T) {
	good := map[api.ParameterType][]string{
		api.ParameterTypeTinyint:         {"-128", "127"},
		api.ParameterTypeSmallint:        {"32767", " 5 "},
		api.ParameterTypeInteger:         {"-2147483648"},
		api.ParameterTypeInt:             {"42"},
		api.ParameterTypeBigint:          {"9223372036854775807"},
		api.ParameterTypeLong:            {"-1"},
		api.ParameterTypeDecimal:         {"1.50", "-.5", "10", "+3."},
		api.ParameterTypeNumeric:         {"0.001"},
		api.ParameterTypeReal:            {"1.5e3"},
		api.ParameterTypeDoublePrecision: {"-2.5E-10"},
		api.ParameterTypeBoolean:         {"true", "FALSE", "t", "0", "yes"},
		api.ParameterTypeVarchar:         {"", "anything at all"},
		api.ParameterTypeDate:            {"2024-02-29"},
		api.ParameterTypeTimestamp:       {"2024-01-01 10:00:00", "2024-01-01T10:00:00.123", "2024-01-01"},
		api.ParameterTypeTimestampNtz:    {"2024-01-01 10:00"},
		api.ParameterTypeTimestamptz:     {"2024-01-01T10:00:00Z", "2024-01-01 10:00:00+02:00", "2024-01-01 10:00:00"},
		api.ParameterTypeTime:            {"23:59:59", "12:00"},
		api.ParameterTypeTimetz:          {"12:00:00+01:00"},
		api.ParameterTypeVarbyte:         {"0xDEADbeef", "00ff"},
	}
	for typ, vals := range good {
		for _, v := range vals {
			if err := checkParameterValue(typ, v); err != nil {
				t.Errorf("%s %q: %v", typ, v, err)
			}
		}
	}
	bad := map[api.ParameterType][]string{
		api.ParameterTypeTinyint:   {"128"},
		api.ParameterTypeSmallint:  {"32768"},
		api.ParameterTypeInteger:   {"2147483648", "1.0", "x"},
		api.ParameterTypeBigint:    {"9223372036854775808"},
		api.ParameterTypeDecimal:   {"1e5", "abc", "1.2.3"},
		api.ParameterTypeReal:      {"NaN", "Inf", "1e40"},
		api.ParameterTypeDouble:    {"x"},
		api.ParameterTypeBoolean:   {"maybe"},
		api.ParameterTypeDate:      {"2023-02-29", "01/02/2024"},
		api.ParameterTypeTimestamp: {"2024-01-01T10:00:00Z", "noon"},
		api.ParameterTypeTime:      {"24:00:00"},
		api.ParameterTypeBinary:    {"abc", "zz"},
	}
	for typ, vals := range bad {
		for _, v := range vals {
			if err := checkParameterValue(typ, v); err == nil {
				t.Errorf("%s %q accepted", typ, v)
			}
		}
	}
	for _, typ := range api.ParameterType("").Values() {
		if err := checkParameterValue(typ, "x"); err != nil && strings.Contains(err.Error(), "unknown parameter type") {
			t.Errorf("type %s is not handled", typ)
		}
	}
}
