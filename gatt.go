package gogatt

import (
	"fmt"
	"strings"
)

// Well-known attribute types (Assigned Numbers §3.5–3.7; Core v5.3 Vol 3 Part G §3).
var (
	UUIDPrimaryService   = UUID16(0x2800)
	UUIDSecondaryService = UUID16(0x2801)
	UUIDInclude          = UUID16(0x2802)
	UUIDCharacteristic   = UUID16(0x2803)
	UUIDExtendedProps    = UUID16(0x2900)
	UUIDUserDescription  = UUID16(0x2901)
	UUIDCCCD             = UUID16(0x2902) // Client Characteristic Configuration
	UUIDPresentation     = UUID16(0x2904)
)

// Properties are a characteristic's property bits (Core v5.3 Vol 3 Part G §3.3.1.1).
type Properties uint8

// Property bits.
const (
	PropBroadcast            Properties = 0x01
	PropRead                 Properties = 0x02
	PropWriteWithoutResponse Properties = 0x04
	PropWrite                Properties = 0x08
	PropNotify               Properties = 0x10
	PropIndicate             Properties = 0x20
	PropAuthenticatedWrites  Properties = 0x40
	PropExtended             Properties = 0x80
)

var propNames = [...]string{"broadcast", "read", "write-without-response", "write", "notify", "indicate", "authenticated-signed-writes", "extended-properties"}

// String lists the set bits, e.g. "read|notify".
func (p Properties) String() string {
	var parts []string
	for i, n := range propNames {
		if p&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Descriptor is a characteristic descriptor.
type Descriptor struct {
	UUID   UUID   `json:"uuid"`
	Handle uint16 `json:"handle"`
}

// Characteristic is a characteristic found by discovery.
type Characteristic struct {
	UUID        UUID         `json:"uuid"`
	Handle      uint16       `json:"handle"`      // the declaration's handle
	ValueHandle uint16       `json:"valueHandle"` // the value's handle
	EndHandle   uint16       `json:"endHandle"`   // the last handle of its descriptors
	Properties  Properties   `json:"properties"`
	Descriptors []Descriptor `json:"descriptors,omitempty"`
}

// CCCD returns the handle of the Client Characteristic Configuration descriptor found by
// discovery (Core v5.3 Vol 3 Part G §3.3.3.3). It never guesses "value handle + 1".
func (c Characteristic) CCCD() (handle uint16, ok bool) {
	for _, d := range c.Descriptors {
		if d.UUID == UUIDCCCD {
			return d.Handle, true
		}
	}
	return 0, false
}

// Service is a primary service and its characteristics.
type Service struct {
	UUID            UUID             `json:"uuid"`
	Handle          uint16           `json:"handle"`
	EndHandle       uint16           `json:"endHandle"`
	Characteristics []Characteristic `json:"characteristics,omitempty"`
}

// LookupCharacteristic finds the characteristic with uuid in the tree. It fails with
// ErrNotFound when there is none and *AmbiguousUUIDError when several services have one.
func LookupCharacteristic(services []Service, uuid UUID) (Characteristic, error) {
	var found []Characteristic
	var svcs []UUID
	for _, s := range services {
		for _, c := range s.Characteristics {
			if c.UUID == uuid {
				found = append(found, c)
				svcs = append(svcs, s.UUID)
			}
		}
	}
	switch len(found) {
	case 0:
		return Characteristic{}, fmt.Errorf("characteristic %s: %w", uuid, ErrNotFound)
	case 1:
		return found[0], nil
	}
	return Characteristic{}, &AmbiguousUUIDError{UUID: uuid, Candidates: found, Services: svcs}
}

// LookupCharacteristicIn finds characteristic uuid inside service svc. It is ambiguous only if
// the same service UUID appears twice with the characteristic in both.
func LookupCharacteristicIn(services []Service, svc, uuid UUID) (Characteristic, error) {
	var sub []Service
	for _, s := range services {
		if s.UUID == svc {
			sub = append(sub, s)
		}
	}
	if len(sub) == 0 {
		return Characteristic{}, fmt.Errorf("service %s: %w", svc, ErrNotFound)
	}
	return LookupCharacteristic(sub, uuid)
}

// CharacteristicByHandle finds the characteristic whose declaration or value handle is h.
func CharacteristicByHandle(services []Service, h uint16) (Characteristic, error) {
	for _, s := range services {
		for _, c := range s.Characteristics {
			if c.ValueHandle == h || c.Handle == h {
				return c, nil
			}
		}
	}
	return Characteristic{}, fmt.Errorf("characteristic with handle 0x%04x: %w", h, ErrNotFound)
}

// CharacteristicMap groups every characteristic of the tree by UUID.
func CharacteristicMap(services []Service) map[UUID][]Characteristic {
	m := make(map[UUID][]Characteristic)
	for _, s := range services {
		for _, c := range s.Characteristics {
			m[c.UUID] = append(m[c.UUID], c)
		}
	}
	return m
}
