package agent

import (
	"strconv"
	"strings"
	"time"
)

// Duration marshals as an ISO 8601 duration ("PT0.0203S", "PT1M5.5S"), the form Graph's
// Edm.Duration takes; Go's own "20.3ms" and exponents are not accepted there.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + d.ISO8601() + `"`), nil
}

// ISO8601 formats d rounded to 100 ns, the resolution of the .NET TimeSpan behind Graph: not
// every parser takes more than seven fractional digits.
func (d Duration) ISO8601() string {
	v := time.Duration(d).Round(100 * time.Nanosecond)
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
		v = -v
	}
	b.WriteString("PT")
	if h := v / time.Hour; h > 0 {
		b.WriteString(strconv.FormatInt(int64(h), 10))
		b.WriteByte('H')
		v -= h * time.Hour
	}
	if m := v / time.Minute; m > 0 {
		b.WriteString(strconv.FormatInt(int64(m), 10))
		b.WriteByte('M')
		v -= m * time.Minute
	}
	if v > 0 || strings.HasSuffix(b.String(), "PT") {
		b.WriteString(strconv.FormatInt(int64(v/time.Second), 10))
		if frac := int64(v % time.Second / 100); frac > 0 { // 100 ns units: 7 digits
			b.WriteByte('.')
			b.WriteString(strings.TrimRight(strconv.FormatInt(frac+1e7, 10)[1:], "0"))
		}
		b.WriteByte('S')
	}
	return b.String()
}
