package sim

import (
	"math"
	"sort"
	"sync/atomic"

	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatt"
)

type attrKind uint8

const (
	kindService attrKind = iota
	kindCharDecl
	kindValue
	kindCCCD
	kindDescriptor
)

// attr is one attribute of the database. Everything but value is fixed after Build; value is
// replaced (never modified in place) under Peripheral.mu.
type attr struct {
	handle            uint16
	typ               bt.UUID
	kind              attrKind
	value             []byte
	read, write       bool
	readSec, writeSec SecurityLevel
	authz             bool
	maxLen            int
	onRead            ReadFunc
	onWrite           WriteFunc
	ch                *charDef // owning characteristic (declaration, value, descriptors)
	end               uint16   // service declarations: the group end handle
}

type svcDef struct {
	uuid        bt.UUID
	secondary   bool
	handle, end uint16
	chars       []*charDef
}

type charDef struct {
	uuid                     bt.UUID
	props                    gatt.Properties
	svc                      *svcDef
	handle, value, cccd, end uint16
	autoGen                  func(seq uint32) []byte
	initRate                 float64
	note                     string
	autoRate                 atomic.Uint64 // math.Float64bits of values/s
}

type database struct {
	attrs    []*attr // sorted by handle
	services []*svcDef
	chars    []*charDef
	byValue  map[uint16]*charDef
}

func rateBits(r float64) uint64 { return math.Float64bits(r) }
func rateFrom(b uint64) float64 { return math.Float64frombits(b) }

// find returns the attribute at handle h.
func (db *database) find(h uint16) *attr {
	i := db.from(h)
	if i < len(db.attrs) && db.attrs[i].handle == h {
		return db.attrs[i]
	}
	return nil
}

// from returns the index of the first attribute with handle ≥ h.
func (db *database) from(h uint16) int {
	return sort.Search(len(db.attrs), func(i int) bool { return db.attrs[i].handle >= h })
}

// span returns the attributes with handles in [start, end], in handle order; the slice aliases
// db.attrs.
func (db *database) span(start, end uint16) []*attr {
	lo := db.from(start)
	rest := db.attrs[lo:]
	return rest[:sort.Search(len(rest), func(i int) bool { return rest[i].handle > end })]
}

// ServiceInfo describes a service of the database, as discovery would find it.
type ServiceInfo struct {
	UUID            bt.UUID
	Primary         bool
	Handle          uint16 // the service declaration
	EndHandle       uint16
	Characteristics []CharacteristicInfo
}

// CharacteristicInfo describes a characteristic of the database.
type CharacteristicInfo struct {
	UUID        bt.UUID
	Service     bt.UUID
	Handle      uint16 // the characteristic declaration
	ValueHandle uint16
	CCCDHandle  uint16 // 0 if none
	EndHandle   uint16 // the last descriptor (or the value)
	Properties  gatt.Properties
	Descriptors []DescriptorInfo
}

// DescriptorInfo describes a descriptor.
type DescriptorInfo struct {
	UUID   bt.UUID
	Handle uint16
}

func (db *database) info(ch *charDef) CharacteristicInfo {
	ci := CharacteristicInfo{UUID: ch.uuid, Service: ch.svc.uuid, Handle: ch.handle, ValueHandle: ch.value,
		CCCDHandle: ch.cccd, EndHandle: ch.end, Properties: ch.props}
	for _, a := range db.span(ch.value+1, ch.end) {
		ci.Descriptors = append(ci.Descriptors, DescriptorInfo{UUID: a.typ, Handle: a.handle})
	}
	return ci
}
