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
	// A *sim.Link implements sim.Bearer: one ATT PDU at a time in each direction.
	link, err := p.Connect(bt.MustParseAddress("AA:BB:CC:DD:EE:FF"), bt.AddressPublic)
	if err != nil {
		panic(err)
	}
	defer link.Close()
	link.WritePDU(att.ReadReq{Handle: loc.ValueHandle}.Append(nil))
	pdu, _ := link.ReadPDU() // 0b 01: Read Response, value 0x01
	rsp, _ := att.Decode(pdu)
	fmt.Printf("handle 0x%04X: %T % x\n", loc.ValueHandle, rsp, rsp.(att.ReadRsp).Value)
	// Output: handle 0x000F: att.ReadRsp 01
}

// A peripheral with a Battery service whose level has a presentation format, and a service of
// its own with a write-only command characteristic that needs an encrypted link and a notifying
// log characteristic whose CCCD comes after its user description. docs/sim.md shows these lines.
func ExampleNewBuilder() {
	addr := bt.MustParseAddress("C0:FF:EE:12:34:56")
	myUUID := bt.MustParseUUID("12345678-0000-1000-8000-00805f9b34fb")
	cmdUUID, logUUID := bt.UUID16(0xFF01), bt.UUID16(0xFF02)
	handle := func(_ sim.Request, v []byte) att.ErrorCode {
		fmt.Printf("command % x\n", v)
		return 0 // success, or an ATT error code for the Error Response
	}

	b := sim.NewBuilder(addr).Name("my sensor").Seed(42)
	b.Service(gatt.UUIDBattery).
		Characteristic(gatt.UUIDBatteryLevel, gatt.PropRead|gatt.PropNotify).Value([]byte{90}).
		PresentationFormat(sim.PresentationFormat{Format: 0x04, Unit: 0x27AD, Namespace: 1})
	b.Service(myUUID).
		Characteristic(cmdUUID, gatt.PropWrite).MaxLength(20).OnWrite(handle).RequireEncryption().
		Characteristic(logUUID, gatt.PropNotify).UserDescription("log").CCCD() // CCCD after the 0x2901
	p, err := b.Build()
	if err != nil {
		panic(err)
	}
	c, _ := p.Characteristic(logUUID)
	fmt.Printf("log: value 0x%04X, CCCD 0x%04X\n", c.ValueHandle, c.CCCDHandle)
	fmt.Printf("advertising % x\n", p.AdvertisingData())
	// Output:
	// log: value 0x0013, CCCD 0x0015
	// advertising 02 01 06 0a 09 6d 79 20 73 65 6e 73 6f 72
}
