package gogatt

import (
	"fmt"

	"github.com/gogatt/gogatt/gatt"
)

// Well-known attribute types (Core v5.3 Vol 3 Part G §3; package gatt has more).
var (
	UUIDPrimaryService   = gatt.UUIDPrimaryService
	UUIDSecondaryService = gatt.UUIDSecondaryService
	UUIDInclude          = gatt.UUIDInclude
	UUIDCharacteristic   = gatt.UUIDCharacteristic
	UUIDExtendedProps    = gatt.UUIDExtendedProperties
	UUIDUserDescription  = gatt.UUIDUserDescription
	UUIDCCCD             = gatt.UUIDCCCD // Client Characteristic Configuration
	UUIDPresentation     = gatt.UUIDPresentationFormat
)

// Properties are a characteristic's property bits (Core v5.3 Vol 3 Part G §3.3.1.1). See
// gatt.Properties.
type Properties = gatt.Properties

// Property bits, named as in Core v5.3 Vol 3 Part G §3.3.1.1, Table 3.5.
const (
	PropBroadcast                 = gatt.PropBroadcast
	PropRead                      = gatt.PropRead
	PropWriteWithoutResponse      = gatt.PropWriteWithoutResponse
	PropWrite                     = gatt.PropWrite
	PropNotify                    = gatt.PropNotify
	PropIndicate                  = gatt.PropIndicate
	PropAuthenticatedSignedWrites = gatt.PropAuthenticatedSignedWrites
	PropExtendedProperties        = gatt.PropExtendedProperties

	// Deprecated: use PropAuthenticatedSignedWrites, the Core specification's name.
	PropAuthenticatedWrites = gatt.PropAuthenticatedSignedWrites
	// Deprecated: use PropExtendedProperties, the Core specification's name.
	PropExtended = gatt.PropExtendedProperties
)

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
