package sim

import (
	"bytes"
	"encoding/binary"

	"github.com/gogatt/gogatt/adv"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatt"
)

// ChangeServices replaces the GATT database at run time with the one b describes and tells the
// connected clients (Core v5.3 Vol 3 Part G §2.5.2, §7.1). Only b's services and
// WithoutGAPService are used; b should carry the peripheral's name and appearance, since the GAP
// service is rebuilt from them. Handles are assigned afresh, so adding, removing or replacing a
// service shifts the handles after it.
//
// The affected range runs from the first handle whose attribute differs (type, or the value of
// a service or characteristic declaration) to the highest handle of the old or the new
// database. On every link the CCCDs in that range are cleared and their automatic notification
// sources stopped; the Service Changed characteristic's own configuration is kept even if it
// moved. Then every link that enabled indications on Service Changed (0x2A05, in the Generic
// Attribute service) gets a Handle Value Indication of the range, two little-endian uint16
// (start, end); ChangeServices waits, like Notify, until each link took it. It returns the range,
// or 0, 0 when nothing changed (then nothing is sent). It may be called from a WriteFunc.
func (p *Peripheral) ChangeServices(b *Builder) (start, end uint16, err error) {
	if b.err != nil {
		return 0, 0, b.err
	}
	db, err := b.buildDB()
	if err != nil {
		return 0, 0, err
	}
	for _, ch := range db.chars {
		if ch.autoGen != nil {
			ch.autoRate.Store(rateBits(ch.initRate))
		}
	}
	p.mu.Lock()
	old := p.db()
	start, end, changed := changedRange(old, db)
	if !changed {
		p.mu.Unlock()
		return 0, 0, nil
	}
	oldSC, newSC := old.serviceChanged(), db.serviceChanged()
	p.dbp.Store(db)
	for c := range p.conns {
		c.mu.Lock()
		var scCfg uint16
		if oldSC != nil {
			scCfg = c.cccd[oldSC.cccd]
		}
		for h := range c.cccd {
			if h >= start && h <= end {
				delete(c.cccd, h)
			}
		}
		if newSC != nil && scCfg != 0 {
			c.cccd[newSC.cccd] = scCfg
		}
		for vh, s := range c.autos {
			if vh >= start && vh <= end {
				close(s.stop)
				delete(c.autos, vh)
			}
		}
		c.mu.Unlock()
	}
	p.mu.Unlock()
	if newSC != nil {
		v := binary.LittleEndian.AppendUint16(nil, start)
		p.Notify(newSC.value, binary.LittleEndian.AppendUint16(v, end))
	}
	return start, end, nil
}

// serviceChanged returns the Service Changed characteristic of the Generic Attribute service
// if it has a CCCD, else nil.
func (db *database) serviceChanged() *charDef {
	for _, s := range db.services {
		if s.uuid != gatt.UUIDGenericAttribute {
			continue
		}
		for _, ch := range s.chars {
			if ch.uuid == gatt.UUIDServiceChanged && ch.cccd != 0 {
				return ch
			}
		}
	}
	return nil
}

// changedRange compares two databases attribute by attribute (see ChangeServices).
func changedRange(old, db *database) (start, end uint16, changed bool) {
	last := func(d *database) uint16 {
		if len(d.attrs) == 0 {
			return 0
		}
		return d.attrs[len(d.attrs)-1].handle
	}
	end = max(last(old), last(db))
	n := min(len(old.attrs), len(db.attrs))
	for i := range n {
		a, b := old.attrs[i], db.attrs[i]
		same := a.handle == b.handle && a.typ == b.typ && a.kind == b.kind
		if same && (a.kind == kindService || a.kind == kindCharDecl) {
			same = bytes.Equal(a.value, b.value)
		}
		if !same {
			return min(a.handle, b.handle), end, true
		}
	}
	switch {
	case len(old.attrs) > n:
		return old.attrs[n].handle, end, true
	case len(db.attrs) > n:
		return db.attrs[n].handle, end, true
	}
	return 0, 0, false
}

// The changing demo peripheral's address and advertised name (see NewChangingDevice).
const (
	ChangingAddress = "C0:FF:EE:00:00:04"
	ChangingName    = "gogatt Changing"
)

// Changing device UUIDs (see NewChangingDevice), of the torture device's form.
var (
	ChangingService         = TortureUUID(0x0006) // holds ChangingControl; never moves
	ChangingInsertedService = TortureUUID(0x0007) // present in the second layout only
	ChangingMovedService    = TortureUUID(0x0008) // after the inserted service: its handles shift
	ChangingControl         = TortureUUID(0x0201) // read, write: 0x00 first layout, 0x01 second
	ChangingInserted        = TortureUUID(0x0202) // read: "inserted"
	ChangingMoved           = TortureUUID(0x0203) // read: "moved"
)

// NewChangingDevice returns the demo peripheral "gogatt Changing", whose database changes at
// run time. Its first layout is GAP, GATT (Service Changed 0x2A05, indicate), ChangingService
// with ChangingControl (value 0x00) and ChangingMovedService with ChangingMoved ("moved", value
// handle 0x000F). Writing 0x01 to ChangingControl inserts ChangingInsertedService with
// ChangingInserted ("inserted") before ChangingMovedService, so ChangingInserted's value takes
// handle 0x000F and ChangingMoved's moves to 0x0012; writing 0x00 restores the first layout.
// Each change is made with ChangeServices, so subscribed clients get a Service Changed
// indication (0x000D–0x0012) before the Write Response. Other values answer Value Not Allowed.
func NewChangingDevice(addr bt.Address, seed int64) *Peripheral {
	var p *Peripheral
	var layout func(second bool) *Builder
	layout = func(second bool) *Builder {
		b := NewBuilder(addr).Name(ChangingName).Seed(seed).
			Advertise(adv.Data{HasFlags: true, Flags: generalDiscoverable, LocalName: ChangingName, NameComplete: true})
		ctl := byte(0)
		if second {
			ctl = 1
		}
		b.Service(ChangingService).
			Characteristic(ChangingControl, gatt.PropRead|gatt.PropWrite).Value([]byte{ctl}).MaxLength(1).
			OnWrite(func(_ Request, v []byte) att.ErrorCode {
				if len(v) != 1 || v[0] > 1 {
					return att.ErrValueNotAllowed
				}
				if _, _, err := p.ChangeServices(layout(v[0] == 1)); err != nil {
					return att.ErrUnlikelyError
				}
				return 0
			}).Note("0x00 first layout, 0x01 second (inserts a service)")
		if second {
			b.Service(ChangingInsertedService).
				Characteristic(ChangingInserted, gatt.PropRead).StringValue("inserted").Note("second layout only")
		}
		b.Service(ChangingMovedService).
			Characteristic(ChangingMoved, gatt.PropRead).StringValue("moved").Note("value at 0x000F, then 0x0012")
		return b
	}
	p = layout(false).MustBuild()
	return p
}
