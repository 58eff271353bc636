package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/gogatt/gogatt/adv"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatt"
)

// Request describes the ATT operation a ReadFunc or WriteFunc serves.
type Request struct {
	Central  bt.Address    // the central's address
	Handle   uint16        // the attribute handle
	Security SecurityLevel // the link's security when the request arrived
}

// ReadFunc produces an attribute value on each read. It returns the whole value (the server
// applies Read Blob offsets and the MTU) or a non-zero ATT error code sent back to the client.
// It runs on the connection's server goroutine, never under a lock of this package; it may call
// Peripheral methods, including Notify (indication confirmations are handled apart from
// requests), but not Link.Close of its own link.
type ReadFunc func(r Request) ([]byte, att.ErrorCode)

// WriteFunc receives a written value (only valid during the call) after the server has checked
// permissions, security and maximum length. A non-zero return is sent back as the ATT error
// code (Write Requests and Execute Write) and the stored value is left unchanged; zero stores
// the value, so later reads see it unless a ReadFunc is set.
type WriteFunc func(r Request, value []byte) att.ErrorCode

// PresentationFormat is the value of a Characteristic Presentation Format descriptor (0x2904,
// Core v5.3 Vol 3 Part G §3.3.3.5).
type PresentationFormat struct {
	Format      uint8  // e.g. 0x04 uint8, 0x06 uint16, 0x19 utf8s (Assigned Numbers §2.4.1)
	Exponent    int8   // base-10 exponent
	Unit        uint16 // e.g. 0x272F degrees Celsius, 0x27AD percentage
	Namespace   uint8  // 0x01 Bluetooth SIG
	Description uint16 // namespace description
}

func (f PresentationFormat) bytes() []byte {
	b := []byte{f.Format, byte(f.Exponent)}
	b = binary.LittleEndian.AppendUint16(b, f.Unit)
	b = append(b, f.Namespace)
	return binary.LittleEndian.AppendUint16(b, f.Description)
}

// Builder assembles a Peripheral: identity, advertising and the GATT database. Methods chain;
// the first error is kept and returned by Build. Handles are assigned in the order things are
// added, starting at 0x0001, each characteristic taking a declaration handle, a value handle
// and one handle per descriptor (Core v5.3 Vol 3 Part G §3).
type Builder struct {
	addr        bt.Address
	addrType    bt.AddressType
	name        string
	appearance  uint16
	seed        int64
	advInterval time.Duration
	nonConn     bool
	rssi, jit   int8
	mtu         int
	prepLimit   int
	noGAP       bool
	adv, scan   *adv.Data
	services    []*ServiceBuilder
	err         error
}

// NewBuilder starts a peripheral at addr (public address, seed 1, RSSI −60±5 dBm, advertising
// every 100 ms, ATT server MTU 517, prepare queue of 128 writes, GAP and GATT services first).
func NewBuilder(addr bt.Address) *Builder {
	return &Builder{addr: addr, seed: 1, advInterval: 100 * time.Millisecond, rssi: -60, jit: 5,
		mtu: att.MaxMTU, prepLimit: 128}
}

func (b *Builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// AddressType sets the address type (public by default).
func (b *Builder) AddressType(t bt.AddressType) *Builder { b.addrType = t; return b }

// Name sets the device name: the GAP Device Name characteristic (0x2A00) and, unless
// Advertise is called, the Complete Local Name in the advertising data.
func (b *Builder) Name(name string) *Builder { b.name = name; return b }

// Appearance sets the GAP Appearance characteristic (0x2A01, Assigned Numbers §2.6).
func (b *Builder) Appearance(a uint16) *Builder { b.appearance = a; return b }

// Seed sets the seed of every random choice (RSSI samples, generated values).
func (b *Builder) Seed(seed int64) *Builder { b.seed = seed; return b }

// AdvertisingInterval sets the advertising interval (20 ms to 10.24 s, Core v5.3 Vol 6 Part B
// §4.4.2.2.1).
func (b *Builder) AdvertisingInterval(d time.Duration) *Builder {
	if d < 20*time.Millisecond || d > 10240*time.Millisecond {
		b.fail(fmt.Errorf("sim: advertising interval %v outside 20ms–10.24s", d))
	}
	b.advInterval = d
	return b
}

// NonConnectable makes the peripheral a broadcaster: Connect fails with ErrNotConnectable.
func (b *Builder) NonConnectable() *Builder { b.nonConn = true; return b }

// RSSI sets the signal strength scanners see: base ± jitter dBm, drawn from the seed
// (jitter 0 = fixed).
func (b *Builder) RSSI(base, jitter int8) *Builder {
	if jitter < 0 {
		b.fail(errors.New("sim: negative RSSI jitter"))
	}
	b.rssi, b.jit = base, jitter
	return b
}

// MTU sets the server's receive MTU announced in Exchange MTU responses (23–517).
func (b *Builder) MTU(mtu int) *Builder {
	if mtu < att.DefaultMTU || mtu > att.MaxMTU {
		b.fail(fmt.Errorf("sim: MTU %d outside %d–%d", mtu, att.DefaultMTU, att.MaxMTU))
	}
	b.mtu = mtu
	return b
}

// PrepareQueueLimit sets how many Prepare Write Requests a link may queue before the server
// answers Prepare Queue Full (Core v5.3 Vol 3 Part F §3.4.6.1).
func (b *Builder) PrepareQueueLimit(n int) *Builder {
	if n < 1 {
		b.fail(errors.New("sim: prepare queue limit must be positive"))
	}
	b.prepLimit = n
	return b
}

// WithoutGAPService omits the Generic Access (0x1800) and Generic Attribute (0x1801) services
// that are otherwise added first.
func (b *Builder) WithoutGAPService() *Builder { b.noGAP = true; return b }

// Advertise sets the advertising payload: the fields of d that are set, encoded by
// adv.Data.Encode (at most 31 octets; Raw is ignored). Without it the payload holds the flags
// (LE General Discoverable and BR/EDR Not Supported, or only the latter for NonConnectable) and
// the name as Complete Local Name.
func (b *Builder) Advertise(d adv.Data) *Builder { c := d.Clone(); b.adv = &c; return b }

// ScanResponse sets the scan-response payload, encoded as in Advertise. Without it the scan
// response is empty.
func (b *Builder) ScanResponse(d adv.Data) *Builder { c := d.Clone(); b.scan = &c; return b }

// Service adds a primary service.
func (b *Builder) Service(uuid bt.UUID) *ServiceBuilder {
	s := &ServiceBuilder{b: b, uuid: uuid}
	b.services = append(b.services, s)
	return s
}

// SecondaryService adds a secondary service (Core v5.3 Vol 3 Part G §3.1).
func (b *Builder) SecondaryService(uuid bt.UUID) *ServiceBuilder {
	s := b.Service(uuid)
	s.secondary = true
	return s
}

// ServiceBuilder adds characteristics to one service.
type ServiceBuilder struct {
	b         *Builder
	uuid      bt.UUID
	secondary bool
	at        uint16
	chars     []*CharacteristicBuilder
}

// AtHandle places the service declaration at handle h, leaving a gap after the previous
// service. h must be above every handle used before.
func (s *ServiceBuilder) AtHandle(h uint16) *ServiceBuilder { s.at = h; return s }

// Characteristic adds a characteristic with the given properties. A CCCD is added for notify or
// indicate, right after the value unless CCCD() places it among other descriptors.
func (s *ServiceBuilder) Characteristic(uuid bt.UUID, props gatt.Properties) *CharacteristicBuilder {
	c := &CharacteristicBuilder{s: s, uuid: uuid, props: props, maxLen: att.MaxAttributeLen}
	s.chars = append(s.chars, c)
	return c
}

// Service ends this service and starts another (for chaining).
func (s *ServiceBuilder) Service(uuid bt.UUID) *ServiceBuilder { return s.b.Service(uuid) }

type descDef struct {
	uuid     bt.UUID
	value    []byte
	writable bool
	cccd     bool
}

// CharacteristicBuilder configures one characteristic.
type CharacteristicBuilder struct {
	s                 *ServiceBuilder
	uuid              bt.UUID
	props             gatt.Properties
	value             []byte
	maxLen            int
	readSec, writeSec SecurityLevel
	authz             bool
	onRead            ReadFunc
	onWrite           WriteFunc
	descs             []descDef
	cccdPlaced        bool
	autoRate          float64
	autoGen           func(seq uint32) []byte
	note              string
}

// Note attaches a short description shown in HandleTable (documentation only).
func (c *CharacteristicBuilder) Note(s string) *CharacteristicBuilder { c.note = s; return c }

// Characteristic ends this characteristic and adds another to the same service.
func (c *CharacteristicBuilder) Characteristic(uuid bt.UUID, props gatt.Properties) *CharacteristicBuilder {
	return c.s.Characteristic(uuid, props)
}

// Service ends this characteristic's service and starts another.
func (c *CharacteristicBuilder) Service(uuid bt.UUID) *ServiceBuilder { return c.s.b.Service(uuid) }

// Value sets the initial static value (at most 512 octets, Core v5.3 Vol 3 Part F §3.2.9).
func (c *CharacteristicBuilder) Value(v []byte) *CharacteristicBuilder {
	if len(v) > att.MaxAttributeLen {
		c.s.b.fail(fmt.Errorf("sim: value of %v is %d octets, max %d", c.uuid, len(v), att.MaxAttributeLen))
	}
	c.value = append([]byte(nil), v...)
	return c
}

// StringValue sets the initial value to the UTF-8 bytes of v.
func (c *CharacteristicBuilder) StringValue(v string) *CharacteristicBuilder {
	return c.Value([]byte(v))
}

// MaxLength bounds written values (default 512); longer writes get Invalid Attribute Value
// Length (Core v5.3 Vol 3 Part F §3.4.1.1).
func (c *CharacteristicBuilder) MaxLength(n int) *CharacteristicBuilder {
	if n < 0 || n > att.MaxAttributeLen {
		c.s.b.fail(fmt.Errorf("sim: max length %d outside 0–%d", n, att.MaxAttributeLen))
	}
	c.maxLen = n
	return c
}

// OnRead serves reads from fn instead of the static value.
func (c *CharacteristicBuilder) OnRead(fn ReadFunc) *CharacteristicBuilder { c.onRead = fn; return c }

// OnWrite passes writes to fn.
func (c *CharacteristicBuilder) OnWrite(fn WriteFunc) *CharacteristicBuilder {
	c.onWrite = fn
	return c
}

// RequireEncryption makes reads and writes of the value answer Insufficient Encryption until
// the link is encrypted (Core v5.3 Vol 3 Part C §10.3).
func (c *CharacteristicBuilder) RequireEncryption() *CharacteristicBuilder {
	c.readSec, c.writeSec = max(c.readSec, SecurityEncrypted), max(c.writeSec, SecurityEncrypted)
	return c
}

// RequireAuthentication makes reads and writes of the value answer Insufficient Authentication
// until the link is encrypted with an authenticated key.
func (c *CharacteristicBuilder) RequireAuthentication() *CharacteristicBuilder {
	c.readSec, c.writeSec = SecurityAuthenticated, SecurityAuthenticated
	return c
}

// Security sets the minimum link security for reading and for writing the value separately.
func (c *CharacteristicBuilder) Security(read, write SecurityLevel) *CharacteristicBuilder {
	c.readSec, c.writeSec = read, write
	return c
}

// RequireAuthorization makes reads and writes of the value answer Insufficient Authorization
// unless the peripheral's authorizer (SetAuthorizer) allows the central.
func (c *CharacteristicBuilder) RequireAuthorization() *CharacteristicBuilder {
	c.authz = true
	return c
}

// AutoNotify makes the peripheral send gen(seq) (seq = 0, 1, … per link) at rate values per
// second to each link that enables notifications or indications on this characteristic, until it
// disables them or the link ends. Peripheral.SetNotifyRate changes the rate later.
func (c *CharacteristicBuilder) AutoNotify(rate float64, gen func(seq uint32) []byte) *CharacteristicBuilder {
	if rate <= 0 || gen == nil {
		c.s.b.fail(errors.New("sim: AutoNotify needs a positive rate and a generator"))
	}
	c.autoRate, c.autoGen = rate, gen
	return c
}

// CCCD places the Client Characteristic Configuration descriptor (0x2902, Core v5.3 Vol 3
// Part G §3.3.3.3) here among the descriptors; without this call it comes right after the
// value. The characteristic must notify or indicate.
func (c *CharacteristicBuilder) CCCD() *CharacteristicBuilder {
	if c.cccdPlaced {
		c.s.b.fail(fmt.Errorf("sim: CCCD of %v placed twice", c.uuid))
	}
	c.cccdPlaced = true
	c.descs = append(c.descs, descDef{uuid: gatt.UUIDCCCD, cccd: true, writable: true})
	return c
}

// UserDescription adds a Characteristic User Description descriptor (0x2901, Core v5.3 Vol 3
// Part G §3.3.3.2), read-only.
func (c *CharacteristicBuilder) UserDescription(s string) *CharacteristicBuilder {
	return c.Descriptor(gatt.UUIDUserDescription, []byte(s))
}

// PresentationFormat adds a Characteristic Presentation Format descriptor (0x2904).
func (c *CharacteristicBuilder) PresentationFormat(f PresentationFormat) *CharacteristicBuilder {
	return c.Descriptor(gatt.UUIDPresentationFormat, f.bytes())
}

// ExtendedProperties adds the Characteristic Extended Properties descriptor (0x2900, Core v5.3
// Vol 3 Part G §3.3.3.1) here and sets the extended-properties bit.
func (c *CharacteristicBuilder) ExtendedProperties(reliableWrite, writableAuxiliaries bool) *CharacteristicBuilder {
	c.props |= gatt.PropExtendedProperties
	var v uint16
	if reliableWrite {
		v |= 1
	}
	if writableAuxiliaries {
		v |= 2
	}
	return c.Descriptor(gatt.UUIDExtendedProperties, binary.LittleEndian.AppendUint16(nil, v))
}

// Descriptor adds a read-only descriptor with a static value.
func (c *CharacteristicBuilder) Descriptor(uuid bt.UUID, value []byte) *CharacteristicBuilder {
	if len(value) > att.MaxAttributeLen {
		c.s.b.fail(fmt.Errorf("sim: descriptor %v value too long", uuid))
	}
	if uuid == gatt.UUIDCCCD {
		return c.CCCD()
	}
	c.descs = append(c.descs, descDef{uuid: uuid, value: append([]byte(nil), value...)})
	return c
}

// WritableDescriptor adds a readable and writable descriptor.
func (c *CharacteristicBuilder) WritableDescriptor(uuid bt.UUID, value []byte) *CharacteristicBuilder {
	c.Descriptor(uuid, value)
	c.descs[len(c.descs)-1].writable = true
	return c
}

// Build assigns handles and returns the peripheral, or the first error met while building.
func (b *Builder) Build() (*Peripheral, error) {
	if b.err != nil {
		return nil, b.err
	}
	db, err := b.buildDB()
	if err != nil {
		return nil, err
	}
	advD := adv.Data{HasFlags: true, Flags: adv.FlagGeneralDiscoverable | adv.FlagBREDRNotSupported, LocalName: b.name, NameComplete: true}
	if b.nonConn {
		advD.Flags = adv.FlagBREDRNotSupported
	}
	if b.adv != nil {
		advD = *b.adv
	}
	advData, err := advD.Encode()
	if err != nil {
		return nil, fmt.Errorf("sim: advertising data: %w", err)
	}
	var scanData []byte
	if b.scan != nil {
		if scanData, err = b.scan.Encode(); err != nil {
			return nil, fmt.Errorf("sim: scan response: %w", err)
		}
	}
	p := &Peripheral{
		addr: b.addr, addrType: b.addrType, name: b.name, seed: b.seed,
		advInterval: b.advInterval, connectable: !b.nonConn, rssiBase: b.rssi, rssiJitter: b.jit,
		serverMTU: b.mtu, prepLimit: b.prepLimit, adv: advData, scanRsp: scanData,
		inRange: true, conns: map[*conn]struct{}{}, bonds: map[bt.Address]SecurityLevel{},
	}
	p.dbp.Store(db)
	p.rng = newRand(b.seed)
	for _, ch := range db.chars {
		if ch.autoGen != nil {
			ch.autoRate.Store(rateBits(ch.initRate))
		}
	}
	return p, nil
}

// MustBuild is Build for databases known to be valid; it panics on error.
func (b *Builder) MustBuild() *Peripheral {
	p, err := b.Build()
	if err != nil {
		panic(err)
	}
	return p
}

func (b *Builder) buildDB() (*database, error) {
	db := &database{}
	next := uint32(1)
	add := func(a *attr) error {
		if next > 0xFFFF {
			return errors.New("sim: GATT database exceeds 65535 handles")
		}
		a.handle = uint16(next)
		next++
		db.attrs = append(db.attrs, a)
		return nil
	}
	services := b.services
	if !b.noGAP {
		gap := &ServiceBuilder{b: b, uuid: gatt.UUIDGenericAccess}
		gap.Characteristic(gatt.UUIDDeviceName, gatt.PropRead).StringValue(b.name)
		gap.Characteristic(gatt.UUIDAppearance, gatt.PropRead).Value(binary.LittleEndian.AppendUint16(nil, b.appearance))
		gattSvc := &ServiceBuilder{b: b, uuid: gatt.UUIDGenericAttribute}
		gattSvc.Characteristic(gatt.UUIDServiceChanged, gatt.PropIndicate).Value([]byte{0x01, 0x00, 0xFF, 0xFF})
		services = append([]*ServiceBuilder{gap, gattSvc}, services...)
		if b.err != nil {
			return nil, b.err
		}
	}
	for _, s := range services {
		if s.at != 0 {
			if uint32(s.at) < next {
				return nil, fmt.Errorf("sim: service %v at handle 0x%04X overlaps handle 0x%04X", s.uuid, s.at, next-1)
			}
			next = uint32(s.at)
		}
		svc := &svcDef{uuid: s.uuid, secondary: s.secondary}
		typ := gatt.UUIDPrimaryService
		if s.secondary {
			typ = gatt.UUIDSecondaryService
		}
		sa := &attr{typ: typ, kind: kindService, value: s.uuid.AppendLE(nil), read: true, maxLen: 16}
		if err := add(sa); err != nil {
			return nil, err
		}
		svc.handle = sa.handle
		for _, cb := range s.chars {
			ch := &charDef{uuid: cb.uuid, props: cb.props, svc: svc, autoGen: cb.autoGen, initRate: cb.autoRate, note: cb.note}
			decl := &attr{typ: gatt.UUIDCharacteristic, kind: kindCharDecl, read: true, ch: ch}
			if err := add(decl); err != nil {
				return nil, err
			}
			ch.handle = decl.handle
			val := &attr{typ: cb.uuid, kind: kindValue, ch: ch, value: cb.value, maxLen: cb.maxLen,
				read:    cb.props&gatt.PropRead != 0,
				write:   cb.props&(gatt.PropWrite|gatt.PropWriteWithoutResponse|gatt.PropAuthenticatedSignedWrites) != 0,
				readSec: cb.readSec, writeSec: cb.writeSec, authz: cb.authz, onRead: cb.onRead, onWrite: cb.onWrite}
			if err := add(val); err != nil {
				return nil, err
			}
			ch.value = val.handle
			decl.value = append([]byte{byte(cb.props)}, byte(val.handle), byte(val.handle>>8))
			decl.value = cb.uuid.AppendLE(decl.value)
			descs := cb.descs
			needCCCD := cb.props&(gatt.PropNotify|gatt.PropIndicate) != 0
			if cb.cccdPlaced && !needCCCD {
				return nil, fmt.Errorf("sim: characteristic %v has a CCCD but neither notifies nor indicates", cb.uuid)
			}
			if needCCCD && !cb.cccdPlaced {
				descs = append([]descDef{{uuid: gatt.UUIDCCCD, cccd: true, writable: true}}, descs...)
			}
			for _, d := range descs {
				da := &attr{typ: d.uuid, kind: kindDescriptor, ch: ch, value: d.value, read: true,
					write: d.writable, maxLen: att.MaxAttributeLen}
				if d.cccd {
					da.kind, da.maxLen = kindCCCD, 2
				}
				if err := add(da); err != nil {
					return nil, err
				}
				if d.cccd {
					ch.cccd = da.handle
				}
			}
			ch.end = uint16(next - 1)
			svc.chars = append(svc.chars, ch)
			db.chars = append(db.chars, ch)
		}
		svc.end = uint16(next - 1)
		sa.end = svc.end
		db.services = append(db.services, svc)
	}
	db.byValue = map[uint16]*charDef{}
	for _, ch := range db.chars {
		db.byValue[ch.value] = ch
	}
	return db, nil
}
