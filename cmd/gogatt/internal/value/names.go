package value

import "fmt"

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
