package sim

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/gogatt/gogatt/adv"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatt"
	"github.com/gogatt/gogatt/profile"
)

// mix is SplitMix64: a stateless, seeded source for demo values (deterministic per seed and
// sequence number, safe from any goroutine).
func mix(seed int64, n uint64) uint64 {
	z := uint64(seed) + (n+1)*0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// deviceInformation adds the Device Information service (0x180A) with string characteristics.
func deviceInformation(b *Builder, model string, seed int64) {
	b.Service(gatt.UUIDDeviceInformation).
		Characteristic(gatt.UUIDManufacturerName, gatt.PropRead).StringValue("gogatt").
		Characteristic(gatt.UUIDModelNumber, gatt.PropRead).StringValue(model).
		Characteristic(gatt.UUIDSerialNumber, gatt.PropRead).StringValue(fmt.Sprintf("SIM-%d", seed)).
		Characteristic(gatt.UUIDHardwareRevision, gatt.PropRead).StringValue("sim-1").
		Characteristic(gatt.UUIDFirmwareRevision, gatt.PropRead).StringValue("1.0.0").
		Characteristic(gatt.UUIDSoftwareRevision, gatt.PropRead).StringValue("gogatt sim")
}

func battery(b *Builder, seed int64) {
	b.Service(gatt.UUIDBattery).
		Characteristic(gatt.UUIDBatteryLevel, gatt.PropRead|gatt.PropNotify).Value(encode(profile.BatteryLevel{Percent: uint8(50 + mix(seed, 1<<40)%51)})).
		PresentationFormat(PresentationFormat{Format: 0x04, Unit: 0x27AD, Namespace: 0x01}).
		Note("percent, seeded 50–100")
}

// NewHeartRateSensor returns the demo heart-rate sensor "gogatt HRM" (appearance 0x0341):
// Heart Rate service 0x180D with Heart Rate Measurement 0x2A37 (notify; once a link enables
// notifications it sends [0x06, bpm] at 1 Hz, changeable up to 1 kHz and beyond with
// SetNotifyRate; bpm 60–100 drawn from the seed), Body Sensor Location 0x2A38 (read, 0x01 chest)
// and Heart Rate Control Point 0x2A39 (write; 0x01 is accepted, anything else answers the HRS
// error 0x80 Control Point Not Supported); Battery 0x180F / 0x2A19 (read, notify); Device
// Information 0x180A (strings). The handle table is in docs/sim.md.
func NewHeartRateSensor(addr bt.Address, seed int64) *Peripheral {
	b := NewBuilder(addr).Name(HeartRateName).Appearance(0x0341).Seed(seed).
		Advertise(adv.Data{HasFlags: true, Flags: generalDiscoverable, LocalName: HeartRateName, NameComplete: true,
			ServiceUUIDs:  []bt.UUID{gatt.UUIDHeartRate, gatt.UUIDBattery},
			HasAppearance: true, Appearance: 0x0341}).
		ScanResponse(adv.Data{HasTxPower: true, TxPower: 0,
			ManufacturerData: map[uint16][]byte{0xFFFF: []byte("gogatt")}})
	heartRate := func(bpm uint16) []byte {
		return encode(profile.HeartRate{BPM: bpm, Contact: profile.ContactDetected})
	}
	b.Service(gatt.UUIDHeartRate).
		Characteristic(gatt.UUIDHeartRateMeasurement, gatt.PropNotify).Value(heartRate(72)).
		AutoNotify(1, func(seq uint32) []byte {
			return heartRate(uint16(60 + mix(seed, uint64(seq))%41))
		}).Note("[0x06, bpm] at 1 Hz (SetNotifyRate up to 1 kHz)").
		Characteristic(gatt.UUIDBodySensorLocation, gatt.PropRead).Value([]byte{0x01}).Note("0x01 chest").
		Characteristic(gatt.UUIDHeartRateControlPoint, gatt.PropWrite).MaxLength(1).
		OnWrite(func(_ Request, v []byte) att.ErrorCode {
			if len(v) != 1 || v[0] != 0x01 {
				return 0x80 // HRS: Control Point Not Supported
			}
			return 0
		}).Note("0x01 resets energy; anything else → error 0x80")
	battery(b, seed)
	deviceInformation(b, "HRM-1", seed)
	return b.MustBuild()
}

// temperature encodes a Temperature Measurement in Celsius with one decimal.
func temperature(tenths int32) []byte {
	return encode(profile.Temperature{Value: profile.Float{Mantissa: tenths, Exponent: -1}})
}

// encode returns the wire form of a demo value, which is always valid.
func encode(v profile.Value) []byte {
	b, err := v.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}

// generalDiscoverable are the flags of a connectable LE-only peripheral (CSS Part A §1.3).
const generalDiscoverable = adv.FlagGeneralDiscoverable | adv.FlagBREDRNotSupported

// NewThermometer returns the demo health thermometer "gogatt Thermo" (appearance 0x0300): Health
// Thermometer 0x1809 with Temperature Measurement 0x2A1C (indicate; once enabled, one
// indication per measurement interval, 36.0–37.9 °C from the seed), Temperature Type 0x2A1D
// (read, 0x02 body), Intermediate Temperature 0x2A1E (notify) and Measurement Interval 0x2A21
// (read, write: uint16 seconds 1–3600, changes the indication rate); Battery and Device
// Information. Its name is only in the scan response.
func NewThermometer(addr bt.Address, seed int64) *Peripheral {
	var p *Peripheral
	b := NewBuilder(addr).Name(ThermometerName).Appearance(0x0300).Seed(seed).
		Advertise(adv.Data{HasFlags: true, Flags: generalDiscoverable, ServiceUUIDs: []bt.UUID{gatt.UUIDHealthThermometer},
			HasAppearance: true, Appearance: 0x0300}).
		ScanResponse(adv.Data{LocalName: ThermometerName, NameComplete: true})
	tempGen := func(seq uint32) []byte { return temperature(int32(360 + mix(seed, uint64(seq))%20)) }
	b.Service(gatt.UUIDHealthThermometer).
		Characteristic(gatt.UUIDTemperatureMeasurement, gatt.PropIndicate).Value(temperature(366)).AutoNotify(1, tempGen).
		Note("indicated every measurement interval (1 s)").
		Characteristic(gatt.UUIDTemperatureType, gatt.PropRead).Value([]byte{byte(profile.TypeBody)}).Note("0x02 body").
		Characteristic(gatt.UUIDIntermediateTemperature, gatt.PropNotify).Value(temperature(366)).
		Characteristic(gatt.UUIDMeasurementInterval, gatt.PropRead|gatt.PropWrite).Value([]byte{0x01, 0x00}).MaxLength(2).
		OnWrite(func(_ Request, v []byte) att.ErrorCode {
			if len(v) != 2 {
				return att.ErrInvalidAttributeValueLength
			}
			s := binary.LittleEndian.Uint16(v)
			if s < 1 || s > 3600 {
				return att.ErrOutOfRange
			}
			_ = p.SetNotifyRate(p.ValueHandle(gatt.UUIDTemperatureMeasurement), 1/float64(s))
			return 0
		}).Note("uint16 seconds 1–3600 (else error 0xFF)")
	battery(b, seed)
	deviceInformation(b, "THERMO-1", seed)
	p = b.MustBuild()
	return p
}

// TortureUUID returns the 128-bit UUID 7e57NNNN-0000-4000-8000-746f72747572 used by the torture
// device for its services (n = 0x0001…), characteristics and descriptors.
func TortureUUID(n uint16) bt.UUID {
	return bt.MustParseUUID(fmt.Sprintf("7e57%04x-0000-4000-8000-746f72747572", n))
}

// Torture device UUIDs (see NewTortureDevice).
var (
	TortureService       = TortureUUID(0x0001) // main custom service
	TortureService2      = TortureUUID(0x0002) // second service sharing TortureDuplicate
	TortureBulkService   = TortureUUID(0x0003) // 40 filler characteristics
	TortureSecondary     = TortureUUID(0x0005) // a secondary service
	TortureLong          = TortureUUID(0x0101) // 300-octet value, byte i = i mod 256; read, write
	TortureWriteOnly     = TortureUUID(0x0102) // write, write without response; no read
	TortureEncrypted     = TortureUUID(0x0103) // read, write; needs encryption
	TortureAuthenticated = TortureUUID(0x0104) // read; needs an authenticated link
	TortureAuthorized    = TortureUUID(0x0105) // read; needs authorization
	TortureDescFirst     = TortureUUID(0x0106) // notify; 0x2901 comes before the CCCD
	TortureIndicate      = TortureUUID(0x0107) // read, indicate
	TortureDuplicate     = TortureUUID(0xD0B1) // in TortureService and TortureService2
	TortureMaxLen        = TortureUUID(0x0109) // read, write; at most 20 octets
	TortureReliable      = TortureUUID(0x010A) // read, write; extended properties: reliable write
	TortureCounter       = TortureUUID(0x010B) // read; uint32 LE counting reads
	TortureNoAccess      = TortureUUID(0x010C) // no properties: reads and writes are refused
	TortureStream        = TortureUUID(0x010D) // notify, indicate; 20-octet value for generators
	TortureMixedDescs    = TortureUUID(0x010E) // read; 16- and 128-bit descriptors mixed
	TortureWriteCmdOnly  = TortureUUID(0x010F) // write without response only
	TortureSigned        = TortureUUID(0x0110) // read, authenticated signed writes
	TortureAppError      = TortureUUID(0x0111) // read, write; every write answers error 0x80
	TortureEmpty         = TortureUUID(0x0112) // read; empty value
	TortureMax           = TortureUUID(0x0113) // read, write; 512-octet value, byte i = i mod 256
	TortureDescAfter     = TortureUUID(0x0201) // in TortureService2: notify; CCCD after two descriptors
	TortureAuxDescriptor = TortureUUID(0xFFFF) // a writable 128-bit descriptor of TortureMixedDescs
)

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// NewTortureDevice returns the demo "gogatt Torture" device, built to break naive clients: a
// 128-bit main service with a 300-octet characteristic, a write-only one, one needing
// encryption, one needing authentication, one needing authorization, one whose CCCD is not at
// value handle + 1 (a 0x2901 comes first), an indicating one, a maximum-length one, a reliable
// write one, a read counter, one with no access, a 20-octet stream for generators, mixed 16-
// and 128-bit descriptors, signed writes, an application error, an empty and a 512-octet value;
// the same characteristic UUID (TortureDuplicate) in two services; a bulk service of 40
// characteristics (61 characteristics in all besides GAP/GATT); a secondary service; and a last
// service placed after a handle gap at 0x0200. The handle table is in docs/sim.md.
func NewTortureDevice(addr bt.Address, seed int64) *Peripheral {
	b := NewBuilder(addr).Name(TortureName).Seed(seed).PrepareQueueLimit(32).
		Advertise(adv.Data{HasFlags: true, Flags: generalDiscoverable, ServiceUUIDs: []bt.UUID{TortureService},
			ManufacturerData: map[uint16][]byte{0xFFFF: {0x7e, 0x57}}}).
		ScanResponse(adv.Data{LocalName: TortureName, NameComplete: true, HasTxPower: true, TxPower: -4,
			ServiceData: map[bt.UUID][]byte{bt.UUID16(0xFFF0): {0x01, 0x02}}})
	var reads atomic.Uint32
	b.Service(TortureService).
		Characteristic(TortureLong, gatt.PropRead|gatt.PropWrite).Value(pattern(300)).Note("`TortureLong`: 300-octet value, byte i = i mod 256").
		Characteristic(TortureWriteOnly, gatt.PropWrite|gatt.PropWriteWithoutResponse).Note("`TortureWriteOnly`: write-only").
		Characteristic(TortureEncrypted, gatt.PropRead|gatt.PropWrite).StringValue("secret").RequireEncryption().Note("`TortureEncrypted`: needs encryption").
		Characteristic(TortureAuthenticated, gatt.PropRead).StringValue("top secret").RequireAuthentication().Note("`TortureAuthenticated`: needs authentication").
		Characteristic(TortureAuthorized, gatt.PropRead).StringValue("authorized").RequireAuthorization().Note("`TortureAuthorized`: needs authorization (SetAuthorizer)").
		Characteristic(TortureDescFirst, gatt.PropRead|gatt.PropNotify).Value(make([]byte, 20)).
		UserDescription("CCCD not at value+1").CCCD().
		PresentationFormat(PresentationFormat{Format: 0x1B, Namespace: 0x01}).Note("`TortureDescFirst`: notify; 0x2901 before the CCCD").
		Characteristic(TortureIndicate, gatt.PropRead|gatt.PropIndicate).StringValue("ind").Note("`TortureIndicate`: indicate").
		Characteristic(TortureDuplicate, gatt.PropRead).StringValue("service 1").Note("`TortureDuplicate` in `TortureService`").
		Characteristic(TortureMaxLen, gatt.PropRead|gatt.PropWrite).StringValue("short").MaxLength(20).Note("`TortureMaxLen`: at most 20 octets").
		Characteristic(TortureReliable, gatt.PropRead|gatt.PropWrite).StringValue("reliable").ExtendedProperties(true, false).Note("`TortureReliable`: reliable write").
		Characteristic(TortureCounter, gatt.PropRead).OnRead(func(Request) ([]byte, att.ErrorCode) {
		return binary.LittleEndian.AppendUint32(nil, reads.Add(1)), 0
	}).Note("`TortureCounter`: uint32 LE number of reads").
		Characteristic(TortureNoAccess, 0).StringValue("hidden").Note("`TortureNoAccess`: no properties: read/write not permitted").
		Characteristic(TortureStream, gatt.PropNotify|gatt.PropIndicate).Value(make([]byte, 20)).Note("`TortureStream`: 20-octet stream for StartGenerator").
		Characteristic(TortureMixedDescs, gatt.PropRead).StringValue("mixed").
		UserDescription("mixed descriptors").WritableDescriptor(TortureAuxDescriptor, []byte("aux")).
		PresentationFormat(PresentationFormat{Format: 0x19, Namespace: 0x01}).Note("`TortureMixedDescs`: 16- and 128-bit descriptors").
		Characteristic(TortureWriteCmdOnly, gatt.PropWriteWithoutResponse).Note("`TortureWriteCmdOnly`: write without response only").
		Characteristic(TortureSigned, gatt.PropRead|gatt.PropAuthenticatedSignedWrites).StringValue("signed").Note("`TortureSigned`: signed writes").
		Characteristic(TortureAppError, gatt.PropRead|gatt.PropWrite).StringValue("app").
		OnWrite(func(Request, []byte) att.ErrorCode { return 0x80 }).Note("`TortureAppError`: writes answer application error 0x80").
		Characteristic(TortureEmpty, gatt.PropRead).Note("`TortureEmpty`: empty value").
		Characteristic(TortureMax, gatt.PropRead|gatt.PropWrite).Value(pattern(512)).Note("`TortureMax`: 512-octet value, byte i = i mod 256")
	b.Service(TortureService2).
		Characteristic(TortureDuplicate, gatt.PropRead|gatt.PropWrite).StringValue("service 2").Note("`TortureDuplicate` in `TortureService2`").
		Characteristic(TortureDescAfter, gatt.PropRead|gatt.PropNotify).StringValue("late cccd").
		UserDescription("CCCD third").Descriptor(TortureUUID(0xFFFE), []byte{0x01}).CCCD().
		Note("`TortureDescAfter`: notify; CCCD after two descriptors")
	bulk := b.Service(TortureBulkService)
	for i := range 40 {
		props := gatt.PropRead
		if i%5 == 4 {
			props |= gatt.PropNotify
		}
		bulk.Characteristic(TortureUUID(uint16(0x0301+i)), props).
			StringValue(fmt.Sprintf("bulk %02d %d", i+1, mix(seed, uint64(i))%1000))
	}
	b.SecondaryService(TortureSecondary).
		Characteristic(TortureUUID(0x0501), gatt.PropRead).StringValue("secondary")
	b.Service(bt.UUID16(0xFFF0)).AtHandle(0x0200).
		Characteristic(bt.UUID16(0xFFF1), gatt.PropRead|gatt.PropWrite|gatt.PropNotify).StringValue("after the gap").Note("service at 0x0200, after a handle gap")
	return b.MustBuild()
}
