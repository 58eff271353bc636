package gogatt

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/gogatt/gogatt/gatt"
)

// tree has the same characteristic UUID (0xfff1) in two services, as real devices do.
func tree() []Service {
	cccd := func(h uint16) []Descriptor {
		return []Descriptor{{UUID: UUIDUserDescription, Handle: h - 1}, {UUID: UUIDCCCD, Handle: h}}
	}
	return []Service{
		{UUID: UUID16(0x180d), Handle: 1, EndHandle: 10, Characteristics: []Characteristic{
			{UUID: UUID16(0x2a37), Handle: 2, ValueHandle: 3, EndHandle: 5, Properties: PropNotify, Descriptors: cccd(5)},
			{UUID: UUID16(0xfff1), Handle: 6, ValueHandle: 7, EndHandle: 10, Properties: PropRead | PropNotify, Descriptors: cccd(10)},
		}},
		{UUID: UUID16(0xfff0), Handle: 11, EndHandle: 20, Characteristics: []Characteristic{
			{UUID: UUID16(0xfff1), Handle: 12, ValueHandle: 13, EndHandle: 13, Properties: PropRead},
			{UUID: UUID16(0xfff2), Handle: 14, ValueHandle: 15, EndHandle: 20, Properties: PropWrite},
		}},
	}
}

func TestLookupCharacteristic(t *testing.T) {
	s := tree()
	c, err := LookupCharacteristic(s, UUID16(0x2a37))
	if err != nil || c.ValueHandle != 3 {
		t.Fatalf("lookup 2a37 = %+v, %v", c, err)
	}
	_, err = LookupCharacteristic(s, UUID16(0xfff1))
	var amb *AmbiguousUUIDError
	if !errors.As(err, &amb) {
		t.Fatalf("lookup fff1 = %v, want *AmbiguousUUIDError", err)
	}
	if len(amb.Candidates) != 2 || amb.Candidates[0].ValueHandle != 7 || amb.Candidates[1].ValueHandle != 13 ||
		!reflect.DeepEqual(amb.Services, []UUID{UUID16(0x180d), UUID16(0xfff0)}) {
		t.Errorf("candidates %+v in %v", amb.Candidates, amb.Services)
	}
	msg := amb.Error()
	for _, want := range []string{"0000fff1-", "2 candidates", "value handle 0x0007 in service 0000180d-", "value handle 0x000d in service 0000fff0-"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if _, err := LookupCharacteristic(s, UUID16(0x2a00)); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	// A service-qualified lookup always resolves.
	for svc, want := range map[UUID]uint16{UUID16(0x180d): 7, UUID16(0xfff0): 13} {
		c, err := LookupCharacteristicIn(s, svc, UUID16(0xfff1))
		if err != nil || c.ValueHandle != want {
			t.Errorf("LookupCharacteristicIn(%v) = %+v, %v", svc, c, err)
		}
	}
	if _, err := LookupCharacteristicIn(s, UUID16(0x1800), UUID16(0xfff1)); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing service: %v", err)
	}
	if _, err := LookupCharacteristicIn(s, UUID16(0xfff0), UUID16(0x2a37)); !errors.Is(err, ErrNotFound) {
		t.Errorf("characteristic in the other service: %v", err)
	}
}

func TestCharacteristicByHandleAndMap(t *testing.T) {
	s := tree()
	for h, want := range map[uint16]uint16{3: 3, 2: 3, 13: 13, 12: 13} {
		c, err := CharacteristicByHandle(s, h)
		if err != nil || c.ValueHandle != want {
			t.Errorf("CharacteristicByHandle(%d) = %+v, %v", h, c, err)
		}
	}
	for _, h := range []uint16{0, 1, 5, 11, 99} {
		if _, err := CharacteristicByHandle(s, h); !errors.Is(err, ErrNotFound) {
			t.Errorf("CharacteristicByHandle(%d) = %v", h, err)
		}
	}
	m := CharacteristicMap(s)
	if len(m) != 3 || len(m[UUID16(0xfff1)]) != 2 || m[UUID16(0xfff2)][0].ValueHandle != 15 {
		t.Errorf("map %v", m)
	}
}

// The CCCD is the 0x2902 descriptor found by discovery, wherever it is — never value handle + 1.
func TestCCCD(t *testing.T) {
	s := tree()
	if h, ok := s[0].Characteristics[0].CCCD(); !ok || h != 5 {
		t.Errorf("CCCD = %d, %v; want 5 (not value handle + 1 = 4)", h, ok)
	}
	if _, ok := s[1].Characteristics[0].CCCD(); ok {
		t.Error("CCCD of a characteristic without one")
	}
}

func TestRootHelpers(t *testing.T) {
	if u, err := ParseUUID("0x2A37"); err != nil || u != UUID16(0x2a37) {
		t.Errorf("ParseUUID %v %v", u, err)
	}
	if MustParseUUID("180d") != UUID16(0x180d) {
		t.Error("MustParseUUID")
	}
	a, err := ParseAddress("c0:ff:ee:00:00:01")
	if err != nil || a.String() != "C0:FF:EE:00:00:01" {
		t.Errorf("ParseAddress %v %v", a, err)
	}
	if _, err := ParseAddress("c0:ff:ee:00:00"); err == nil {
		t.Error("short address accepted")
	}
	if AddressPublic.String() != "public" || AddressRandom.String() != "random" {
		t.Error("address types")
	}
}

// TestPropertiesReexport checks that the root's property names, the deprecated ones included,
// are package gatt's, with the same String.
func TestPropertiesReexport(t *testing.T) {
	var p gatt.Properties = PropRead | PropNotify
	if p.String() != "read|notify" {
		t.Errorf("String = %q", p.String())
	}
	if PropAuthenticatedWrites != PropAuthenticatedSignedWrites || PropExtended != PropExtendedProperties {
		t.Error("deprecated aliases differ from the spec names")
	}
	if (PropAuthenticatedSignedWrites | PropExtendedProperties).String() != "authenticated-signed-writes|extended-properties" {
		t.Error("String of the high bits changed")
	}
	if UUIDCCCD != gatt.UUIDCCCD || UUIDPresentation != gatt.UUIDPresentationFormat || UUIDExtendedProps != gatt.UUIDExtendedProperties {
		t.Error("UUID variables differ from package gatt's")
	}
}
