package adv_test

import (
	"fmt"

	"github.com/gogatt/gogatt/adv"
	"github.com/gogatt/gogatt/bt"
)

// A scanner parses a device's advertising packet and its scan response into one Data.
func ExampleParse() {
	advertising := []byte{
		0x02, 0x01, 0x06, // flags: general discoverable, BR/EDR not supported
		0x03, 0x03, 0x0d, 0x18, // complete list of 16-bit service UUIDs: 0x180d
		0x04, 0x08, 'H', 'R', 'S', // shortened local name
	}
	scanResponse := []byte{
		0x0a, 0x09, 'H', 'R', ' ', 'S', 'e', 'n', 's', 'o', 'r', // complete local name
		0x05, 0xff, 0x4c, 0x00, 0x02, 0x15, // manufacturer data, company 0x004c
	}
	var d adv.Data
	if err := adv.Parse(adv.ConnectableUndirected, advertising, &d); err != nil {
		fmt.Println(err)
	}
	if err := adv.Parse(adv.ScanResponse, scanResponse, &d); err != nil {
		fmt.Println(err)
	}
	fmt.Printf("name %q, flags %#02x, services %v\n", d.LocalName, d.Flags, d.ServiceUUIDs[0].Short())
	fmt.Printf("manufacturer 0x004c: % x\n", d.ManufacturerData[0x004c])
	fmt.Println("heart rate service:", d.HasService(bt.UUID16(0x180d)))
	// Output:
	// name "HR Sensor", flags 0x06, services 180d
	// manufacturer 0x004c: 02 15
	// heart rate service: true
}

// Builder assembles a payload and refuses one that does not fit a legacy PDU.
func ExampleBuilder() {
	p, err := adv.NewBuilder().
		Flags(adv.FlagGeneralDiscoverable|adv.FlagBREDRNotSupported).
		ServiceUUIDs(true, bt.UUID16(0x180d)).
		CompleteName("HR Sensor").
		Bytes()
	fmt.Printf("% x %v\n", p, err)

	_, err = adv.NewBuilder().CompleteName("a name much too long for thirty-one octets").Bytes()
	fmt.Println(err)
	// Output:
	// 02 01 06 03 03 0d 18 0a 09 48 52 20 53 65 6e 73 6f 72 <nil>
	// advertising data too long: 44 octets, at most 31 fit
}
