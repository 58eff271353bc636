// Package gatt is the GATT vocabulary every layer of gogatt shares: characteristic properties,
// the well-known UUIDs of attribute types, descriptors, services and characteristics, and the
// names of SIG-assigned UUIDs. It is pure (no I/O, no state) and depends only on package bt.
// The root package gogatt re-exports Properties and its bits under the same names.
package gatt

import (
	"strings"

	"github.com/gogatt/gogatt/bt"
)

// Properties are a characteristic's property bits, the first octet of a characteristic
// declaration (Core v5.3 Vol 3 Part G §3.3.1.1, Table 3.5).
type Properties uint8

// Property bits, named as in Core v5.3 Vol 3 Part G §3.3.1.1, Table 3.5.
const (
	PropBroadcast                 Properties = 0x01 // the value may be broadcast (Server Characteristic Configuration)
	PropRead                      Properties = 0x02
	PropWriteWithoutResponse      Properties = 0x04
	PropWrite                     Properties = 0x08
	PropNotify                    Properties = 0x10
	PropIndicate                  Properties = 0x20
	PropAuthenticatedSignedWrites Properties = 0x40
	PropExtendedProperties        Properties = 0x80 // a Characteristic Extended Properties descriptor follows
)

var propNames = [...]string{"broadcast", "read", "write-without-response", "write", "notify", "indicate", "authenticated-signed-writes", "extended-properties"}

// String lists the set bits, lowest first, e.g. "read|notify"; "none" when no bit is set.
func (p Properties) String() string {
	var parts []string
	for i, n := range propNames {
		if p&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Attribute types of GATT declarations (Core v5.3 Vol 3 Part G §3.1–3.3; Bluetooth Assigned
// Numbers, "Declarations").
var (
	UUIDPrimaryService   = bt.UUID16(0x2800)
	UUIDSecondaryService = bt.UUID16(0x2801)
	UUIDInclude          = bt.UUID16(0x2802)
	UUIDCharacteristic   = bt.UUID16(0x2803)
)

// Characteristic descriptors (Core v5.3 Vol 3 Part G §3.3.3; Bluetooth Assigned Numbers,
// "Descriptors").
var (
	UUIDExtendedProperties = bt.UUID16(0x2900) // Characteristic Extended Properties
	UUIDUserDescription    = bt.UUID16(0x2901) // Characteristic User Description
	UUIDCCCD               = bt.UUID16(0x2902) // Client Characteristic Configuration
	UUIDSCCD               = bt.UUID16(0x2903) // Server Characteristic Configuration
	UUIDPresentationFormat = bt.UUID16(0x2904) // Characteristic Presentation Format
)

// Services (Bluetooth Assigned Numbers, "GATT Services").
var (
	UUIDGenericAccess     = bt.UUID16(0x1800)
	UUIDGenericAttribute  = bt.UUID16(0x1801)
	UUIDHealthThermometer = bt.UUID16(0x1809)
	UUIDDeviceInformation = bt.UUID16(0x180A)
	UUIDHeartRate         = bt.UUID16(0x180D)
	UUIDBattery           = bt.UUID16(0x180F)
)

// Characteristics (Bluetooth Assigned Numbers, "Characteristics"). Package profile decodes and
// encodes the values of several of them.
var (
	UUIDDeviceName              = bt.UUID16(0x2A00) // GAP, Core v5.3 Vol 3 Part C §12.1
	UUIDAppearance              = bt.UUID16(0x2A01) // GAP, Core v5.3 Vol 3 Part C §12.2
	UUIDServiceChanged          = bt.UUID16(0x2A05) // GATT, Core v5.3 Vol 3 Part G §7.1
	UUIDBatteryLevel            = bt.UUID16(0x2A19)
	UUIDTemperatureMeasurement  = bt.UUID16(0x2A1C)
	UUIDTemperatureType         = bt.UUID16(0x2A1D)
	UUIDIntermediateTemperature = bt.UUID16(0x2A1E)
	UUIDMeasurementInterval     = bt.UUID16(0x2A21)
	UUIDModelNumber             = bt.UUID16(0x2A24)
	UUIDSerialNumber            = bt.UUID16(0x2A25)
	UUIDFirmwareRevision        = bt.UUID16(0x2A26)
	UUIDHardwareRevision        = bt.UUID16(0x2A27)
	UUIDSoftwareRevision        = bt.UUID16(0x2A28)
	UUIDManufacturerName        = bt.UUID16(0x2A29)
	UUIDHeartRateMeasurement    = bt.UUID16(0x2A37)
	UUIDBodySensorLocation      = bt.UUID16(0x2A38)
	UUIDHeartRateControlPoint   = bt.UUID16(0x2A39)
)

// Name returns the name Bluetooth Assigned Numbers gives u (services, declarations, descriptors
// and characteristics), or "" when u is not a 16-bit UUID this table knows. The table holds the
// common ones, not the whole registry.
func Name(u bt.UUID) string {
	v, ok := u.Is16()
	if !ok {
		return ""
	}
	return name16(v)
}

func name16(v uint16) string {
	switch v {
	// Services
	case 0x1800:
		return "Generic Access"
	case 0x1801:
		return "Generic Attribute"
	case 0x1805:
		return "Current Time"
	case 0x1809:
		return "Health Thermometer"
	case 0x180A:
		return "Device Information"
	case 0x180D:
		return "Heart Rate"
	case 0x180F:
		return "Battery"
	case 0x1812:
		return "Human Interface Device"
	case 0x181A:
		return "Environmental Sensing"
	// Declarations
	case 0x2800:
		return "Primary Service"
	case 0x2801:
		return "Secondary Service"
	case 0x2802:
		return "Include"
	case 0x2803:
		return "Characteristic"
	// Descriptors
	case 0x2900:
		return "Characteristic Extended Properties"
	case 0x2901:
		return "Characteristic User Description"
	case 0x2902:
		return "Client Characteristic Configuration"
	case 0x2903:
		return "Server Characteristic Configuration"
	case 0x2904:
		return "Characteristic Presentation Format"
	// Characteristics
	case 0x2A00:
		return "Device Name"
	case 0x2A01:
		return "Appearance"
	case 0x2A04:
		return "Peripheral Preferred Connection Parameters"
	case 0x2A05:
		return "Service Changed"
	case 0x2A19:
		return "Battery Level"
	case 0x2A1C:
		return "Temperature Measurement"
	case 0x2A1D:
		return "Temperature Type"
	case 0x2A1E:
		return "Intermediate Temperature"
	case 0x2A21:
		return "Measurement Interval"
	case 0x2A23:
		return "System ID"
	case 0x2A24:
		return "Model Number String"
	case 0x2A25:
		return "Serial Number String"
	case 0x2A26:
		return "Firmware Revision String"
	case 0x2A27:
		return "Hardware Revision String"
	case 0x2A28:
		return "Software Revision String"
	case 0x2A29:
		return "Manufacturer Name String"
	case 0x2A2A:
		return "IEEE 11073-20601 Regulatory Certification Data List"
	case 0x2A37:
		return "Heart Rate Measurement"
	case 0x2A38:
		return "Body Sensor Location"
	case 0x2A39:
		return "Heart Rate Control Point"
	case 0x2A50:
		return "PnP ID"
	case 0x2A6E:
		return "Temperature"
	case 0x2A6F:
		return "Humidity"
	}
	return ""
}
