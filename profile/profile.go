// Package profile decodes and encodes the values of standard GATT characteristics, as the GATT
// Specification Supplement (GSS) defines them: Heart Rate Measurement (0x2A37), Temperature
// Measurement (0x2A1C) with its IEEE 11073-20601 FLOAT, and Battery Level (0x2A19). It is pure
// (no I/O, no state): a central decodes what it reads or is notified of, a peripheral (package
// sim's demo devices) encodes what it sends.
//
// Every value type has a Decode function, MarshalBinary and AppendBinary (the wire form),
// String (the form people read) and MarshalJSON (named fields); Decode picks the decoder by
// characteristic UUID.
package profile

import (
	"encoding"
	"errors"
	"fmt"

	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatt"
)

// ErrInvalid is wrapped by every error of a malformed value, decoded or encoded.
var ErrInvalid = errors.New("invalid characteristic value")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Value is a characteristic value of one of this package's types.
type Value interface {
	fmt.Stringer
	encoding.BinaryMarshaler
	encoding.BinaryAppender
}

// Decode decodes the value b of characteristic uuid: a HeartRate, a BatteryLevel or a
// Temperature (Temperature Measurement and Intermediate Temperature share their format). ok is
// false when uuid is not one this package knows; err (wrapping ErrInvalid) is set when it is but
// b is malformed.
func Decode(uuid bt.UUID, b []byte) (v Value, ok bool, err error) {
	switch uuid {
	case gatt.UUIDHeartRateMeasurement:
		v, err = DecodeHeartRate(b)
	case gatt.UUIDBatteryLevel:
		v, err = DecodeBatteryLevel(b)
	case gatt.UUIDTemperatureMeasurement, gatt.UUIDIntermediateTemperature:
		v, err = DecodeTemperature(b)
	default:
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	return v, true, nil
}

// marshal is MarshalBinary in terms of AppendBinary.
func marshal(v encoding.BinaryAppender) ([]byte, error) { return v.AppendBinary(nil) }
