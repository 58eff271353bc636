package profile

import "fmt"

// BatteryLevel is a Battery Level (0x2A19, GSS "Battery Level"; Battery Service v1.0 §3.1):
// one octet, the remaining charge in percent, 0–100.
type BatteryLevel struct {
	Percent uint8 `json:"percent"`
}

// DecodeBatteryLevel decodes a Battery Level: exactly one octet, at most 100.
func DecodeBatteryLevel(b []byte) (BatteryLevel, error) {
	if len(b) != 1 {
		return BatteryLevel{}, invalid("battery level of %d octet(s), want 1", len(b))
	}
	if b[0] > 100 {
		return BatteryLevel{}, invalid("battery level %d %% is above 100", b[0])
	}
	return BatteryLevel{Percent: b[0]}, nil
}

// AppendBinary appends the octet; it fails (wrapping ErrInvalid) above 100 %.
func (l BatteryLevel) AppendBinary(dst []byte) ([]byte, error) {
	if l.Percent > 100 {
		return dst, invalid("battery level %d %% is above 100", l.Percent)
	}
	return append(dst, l.Percent), nil
}

// MarshalBinary returns the octet (see AppendBinary).
func (l BatteryLevel) MarshalBinary() ([]byte, error) { return marshal(l) }

// String renders the level, e.g. "87 %".
func (l BatteryLevel) String() string { return fmt.Sprintf("%d %%", l.Percent) }
