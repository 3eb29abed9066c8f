package cleanrooms

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	api "github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
)

// Parameter values.

var (
	decimalRE = regexp.MustCompile(`^[+-]?(\d+(\.\d*)?|\.\d+)$`)
	zoneRE    = regexp.MustCompile(`(Z|[+-]\d{2}(:?\d{2})?)$`)
)

// checkParameterValue reports whether v is a literal of parameter type typ.
func checkParameterValue(typ api.ParameterType, v string) error {
	s := strings.TrimSpace(v)
	intOf := func(bits int) error {
		_, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return fmt.Errorf("%q is not a %d-bit integer", v, bits)
		}
		return nil
	}
	floatOf := func(bits int) error {
		f, err := strconv.ParseFloat(s, bits)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("%q is not a finite number", v)
		}
		return nil
	}
	switch typ {
	case api.ParameterTypeTinyint, api.ParameterTypeByte:
		return intOf(8)
	case api.ParameterTypeSmallint, api.ParameterTypeShort:
		return intOf(16)
	case api.ParameterTypeInteger, api.ParameterTypeInt:
		return intOf(32)
	case api.ParameterTypeBigint, api.ParameterTypeLong:
		return intOf(64)
	case api.ParameterTypeDecimal, api.ParameterTypeNumeric:
		if !decimalRE.MatchString(s) {
			return fmt.Errorf("%q is not a decimal number", v)
		}
		return nil
	case api.ParameterTypeReal, api.ParameterTypeFloat:
		return floatOf(32)
	case api.ParameterTypeDoublePrecision, api.ParameterTypeDouble:
		return floatOf(64)
	case api.ParameterTypeBoolean:
		switch strings.ToLower(s) {
		case "true", "false", "t", "f", "yes", "no", "1", "0":
			return nil
		}
		return fmt.Errorf("%q is not a boolean (true or false)", v)
	case api.ParameterTypeChar, api.ParameterTypeCharacter, api.ParameterTypeVarchar, api.ParameterTypeString:
		return nil
	case api.ParameterTypeDate:
		if _, err := time.Parse("2006-01-02", s); err != nil {
			return fmt.Errorf("%q is not a date (YYYY-MM-DD)", v)
		}
		return nil
	case api.ParameterTypeTimestamp, api.ParameterTypeTimestampNtz:
		if parses(s, localLayouts) {
			return nil
		}
		if parses(s, zonedLayouts) {
			return fmt.Errorf("%q has a time zone; %s values have none", v, typ)
		}
		return fmt.Errorf("%q is not a timestamp (YYYY-MM-DD HH:MM:SS)", v)
	case api.ParameterTypeTimestamptz, api.ParameterTypeTimestampLtz:
		if parses(s, localLayouts) || parses(s, zonedLayouts) {
			return nil
		}
		return fmt.Errorf("%q is not a timestamp (YYYY-MM-DD HH:MM:SS[+ZZ:ZZ])", v)
	case api.ParameterTypeTime, api.ParameterTypeTimetz:
		t := s
		if typ == api.ParameterTypeTimetz {
			t = zoneRE.ReplaceAllString(t, "")
		}
		for _, layout := range []string{"15:04:05.999999999", "15:04:05", "15:04"} {
			if _, err := time.Parse(layout, t); err == nil {
				return nil
			}
		}
		return fmt.Errorf("%q is not a time (HH:MM:SS)", v)
	case api.ParameterTypeVarbyte, api.ParameterTypeBinary:
		h := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
		if _, err := hex.DecodeString(h); err != nil {
			return fmt.Errorf("%q is not hexadecimal bytes", v)
		}
		return nil
	}
	return fmt.Errorf("unknown parameter type %s", typ)
}

// Timestamp layouts, after a space between date and time becomes a T.
var (
	localLayouts = []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"}
	zonedLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z07", "2006-01-02T15:04:05Z07", "2006-01-02T15:04Z07:00"}
)

func parses(s string, layouts []string) bool {
	norm := strings.Replace(s, " ", "T", 1)
	for _, layout := range layouts {
		if _, err := time.Parse(layout, norm); err == nil {
			return true
		}
	}
	return false
}

// queryError turns an analyzer's failure into a ValidationException.
func queryError(err error) error {
	var fe *fault.Error
	if errors.As(err, &fe) {
		if fe.Kind == fault.Validation && len(fe.Fields) == 0 {
			e := *fe
			e.Fields = []fault.Field{{Name: "source.text", Message: fe.Message}}
			return &e
		}
		return fe
	}
	msg := "The analysis template's SQL is not a valid query: " + err.Error()
	return fault.Invalid(string(api.ValidationExceptionReasonInvalidQuery), msg, fault.Field{Name: "source.text", Message: msg})
}
