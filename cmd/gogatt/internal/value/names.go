package value

import (
	"fmt"

	"github.com/gogatt/gogatt/bt"
)

// Names of the SIG-assigned 16-bit UUIDs the CLI shows (Assigned Numbers §3.4–3.8). Only the
// common ones: anything else is shown by its number.
var uuidNames = map[uint16]string{
	// Services
	0x1800: "Generic Access",
	0x1801: "Generic Attribute",
	0x180a: "Device Information",
	0x180d: "Heart Rate",
	0x180f: "Battery",
	0x1809: "Health Thermometer",
	0x1805: "Current Time",
	0x181a: "Environmental Sensing",
	0x1812: "Human Interface Device",
	// Characteristics
	0x2a00: "Device Name",
	0x2a01: "Appearance",
	0x2a04: "Peripheral Preferred Connection Parameters",
	0x2a05: "Service Changed",
	0x2a19: "Battery Level",
	0x2a1c: "Temperature Measurement",
	0x2a1d: "Temperature Type",
	0x2a1e: "Intermediate Temperature",
	0x2a21: "Measurement Interval",
	0x2a23: "System ID",
	0x2a24: "Model Number String",
	0x2a25: "Serial Number String",
	0x2a26: "Firmware Revision String",
	0x2a27: "Hardware Revision String",
	0x2a28: "Software Revision String",
	0x2a29: "Manufacturer Name String",
	0x2a2a: "IEEE 11073-20601 Regulatory Certification Data List",
	0x2a37: "Heart Rate Measurement",
	0x2a38: "Body Sensor Location",
	0x2a39: "Heart Rate Control Point",
	0x2a50: "PnP ID",
	0x2a6e: "Temperature",
	0x2a6f: "Humidity",
	// Descriptors
	0x2900: "Characteristic Extended Properties",
	0x2901: "Characteristic User Description",
	0x2902: "Client Characteristic Configuration",
	0x2903: "Server Characteristic Configuration",
	0x2904: "Characteristic Presentation Format",
}

// UUIDName returns the assigned name of u, or "" when it is not a 16-bit UUID the table knows.
func UUIDName(u bt.UUID) string {
	if v, ok := u.Is16(); ok {
		return uuidNames[v]
	}
	return ""
}

// companies are a few Bluetooth SIG company identifiers (Assigned Numbers §7), enough to make
// a scan readable; others print as their number.
var companies = map[uint16]string{
	0x0002: "Intel",
	0x0006: "Microsoft",
	0x000f: "Broadcom",
	0x004c: "Apple",
	0x0059: "Nordic Semiconductor",
	0x0075: "Samsung",
	0x00e0: "Google",
	0x02ff: "Silicon Labs",
	0x0499: "Ruuvi Innovations",
	0xffff: "test",
}

// CompanyName returns the name of a company identifier, or "0x1234" when unknown.
func CompanyName(id uint16) string {
	if n, ok := companies[id]; ok {
		return n
	}
	return fmt.Sprintf("0x%04x", id)
}
