package sim_test

import (
	"fmt"

	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatt"
	"github.com/gogatt/gogatt/sim"
)

// A central reads a characteristic of the demo heart-rate sensor over an in-memory link.
func ExamplePeripheral_Connect() {
	p := sim.NewHeartRateSensor(bt.MustParseAddress(sim.HeartRateAddress), 1)
	loc, _ := p.Characteristic(bt.UUID16(0x2A38)) // Body Sensor Location
	link, err := p.Connect(bt.MustParseAddress("AA:BB:CC:DD:EE:FF"), bt.AddressPublic)
	if err != nil {
		panic(err)
	}
	defer link.Close()
	link.WritePDU(att.ReadReq{Handle: loc.ValueHandle}.Append(nil))
	pdu, _ := link.ReadPDU()
	rsp, _ := att.Decode(pdu)
	fmt.Printf("handle 0x%04X: %T % x\n", loc.ValueHandle, rsp, rsp.(att.ReadRsp).Value)
	// Output: handle 0x000F: att.ReadRsp 01
}

// A peripheral with a notifying characteristic whose CCCD comes after a user description,
// and a write-only command characteristic that needs an encrypted link.
func ExampleNewBuilder() {
	svc := bt.MustParseUUID("12345678-0000-1000-8000-00805f9b34fb")
	b := sim.NewBuilder(bt.MustParseAddress("C0:FF:EE:12:34:56")).Name("my sensor").Seed(42)
	b.Service(svc).
		Characteristic(bt.UUID16(0xFF01), gatt.PropRead|gatt.PropNotify).Value([]byte{0}).
		UserDescription("level").CCCD().
		Characteristic(bt.UUID16(0xFF02), gatt.PropWrite).MaxLength(4).RequireEncryption()
	p, err := b.Build()
	if err != nil {
		panic(err)
	}
	c, _ := p.Characteristic(bt.UUID16(0xFF01))
	fmt.Printf("value 0x%04X, CCCD 0x%04X\n", c.ValueHandle, c.CCCDHandle)
	fmt.Printf("advertising % x\n", p.AdvertisingData())
	// Output:
	// value 0x000C, CCCD 0x000E
	// advertising 02 01 06 0a 09 6d 79 20 73 65 6e 73 6f 72
}
