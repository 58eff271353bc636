package bt_test

import (
	"fmt"

	"github.com/gogatt/gogatt/bt"
)

func ExampleParseUUID() {
	for _, s := range []string{"2a37", "0x2A37", "0000180d", "6E400001-B5A3-F393-E0A9-E50E24DCCA9E"} {
		u, err := bt.ParseUUID(s)
		fmt.Println(u, u.Short(), err)
	}
	_, err := bt.ParseUUID("2a3")
	fmt.Println(err)
	// Output:
	// 00002a37-0000-1000-8000-00805f9b34fb 2a37 <nil>
	// 00002a37-0000-1000-8000-00805f9b34fb 2a37 <nil>
	// 0000180d-0000-1000-8000-00805f9b34fb 180d <nil>
	// 6e400001-b5a3-f393-e0a9-e50e24dcca9e 6e400001-b5a3-f393-e0a9-e50e24dcca9e <nil>
	// invalid UUID "2a3": want 4, 8 or 32 hex digits (dashes allowed in the 128-bit form)
}

func ExampleParseAddress() {
	a, err := bt.ParseAddress("c0:ff:ee:00:00:01")
	fmt.Println(a, err)
	fmt.Printf("wire order: % x\n", a.LE())
	_, err = bt.ParseAddress("c0-ff-ee-00-00-01")
	fmt.Println(err)
	// Output:
	// C0:FF:EE:00:00:01 <nil>
	// wire order: 01 00 00 ee ff c0
	// invalid Bluetooth address "c0-ff-ee-00-00-01": octets must be separated by ':'
}
