package cleanrooms

import (
	"strings"
	"testing"

	api "github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
)

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
