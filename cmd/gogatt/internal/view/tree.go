package view

import (
	"fmt"
	"strings"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatt"
)

// UUIDLabel renders a UUID as people read it: "180d Heart Rate" for a known 16-bit UUID,
// "2a99" for an unknown one, the canonical 128-bit form otherwise.
func UUIDLabel(u bt.UUID) string {
	if n := gatt.Name(u); n != "" {
		return u.Short() + " " + n
	}
	return u.Short()
}

// PropertyList returns the set property bits as words, e.g. ["read", "notify"].
func PropertyList(p gogatt.Properties) []string {
	if p == 0 {
		return []string{}
	}
	return strings.Split(p.String(), "|")
}

// Tree renders services as an indented tree with handles, properties and descriptors:
//
//	[0x000c-0x0011] 180d Heart Rate
//	  ├─ [0x000e] 2a37 Heart Rate Measurement  notify
//	  │   └─ [0x000f] 2902 Client Characteristic Configuration
//	  └─ [0x0011] 2a38 Body Sensor Location  read
//
// A characteristic's handle is its value handle: the one read, write and subscribe take.
func Tree(services []gogatt.Service) []string {
	var out []string
	for _, s := range services {
		out = append(out, fmt.Sprintf("[0x%04x-0x%04x] %s", s.Handle, s.EndHandle, UUIDLabel(s.UUID)))
		for i, c := range s.Characteristics {
			last := i == len(s.Characteristics)-1
			branch, cont := "├─", "│ "
			if last {
				branch, cont = "└─", "  "
			}
			out = append(out, fmt.Sprintf("  %s [0x%04x] %s  %s", branch, c.ValueHandle, UUIDLabel(c.UUID), strings.Join(PropertyList(c.Properties), ",")))
			for j, d := range c.Descriptors {
				db := "├─"
				if j == len(c.Descriptors)-1 {
					db = "└─"
				}
				out = append(out, fmt.Sprintf("  %s  %s [0x%04x] %s", cont, db, d.Handle, UUIDLabel(d.UUID)))
			}
		}
	}
	return out
}

// TreeSummary counts services, characteristics and descriptors, e.g. "4 services, 9
// characteristics, 3 descriptors".
func TreeSummary(services []gogatt.Service) string {
	nc, nd := 0, 0
	for _, s := range services {
		nc += len(s.Characteristics)
		for _, c := range s.Characteristics {
			nd += len(c.Descriptors)
		}
	}
	return fmt.Sprintf("%s, %s, %s", plural(len(services), "service"), plural(nc, "characteristic"), plural(nd, "descriptor"))
}

func plural(n int, s string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", s)
	}
	return fmt.Sprintf("%d %ss", n, s)
}

// JSON shapes of the tree, with names and property words instead of bit masks.
type (
	// JSONService is a service in --json output.
	JSONService struct {
		UUID            string               `json:"uuid"`
		Name            string               `json:"name,omitempty"`
		Handle          uint16               `json:"handle"`
		EndHandle       uint16               `json:"endHandle"`
		Characteristics []JSONCharacteristic `json:"characteristics"`
	}
	// JSONCharacteristic is a characteristic in --json output.
	JSONCharacteristic struct {
		UUID        string           `json:"uuid"`
		Name        string           `json:"name,omitempty"`
		Handle      uint16           `json:"handle"`
		ValueHandle uint16           `json:"valueHandle"`
		Properties  []string         `json:"properties"`
		Descriptors []JSONDescriptor `json:"descriptors"`
	}
	// JSONDescriptor is a descriptor in --json output.
	JSONDescriptor struct {
		UUID   string `json:"uuid"`
		Name   string `json:"name,omitempty"`
		Handle uint16 `json:"handle"`
	}
)

// TreeJSON converts services to their JSON shape.
func TreeJSON(services []gogatt.Service) []JSONService {
	out := make([]JSONService, 0, len(services))
	for _, s := range services {
		js := JSONService{UUID: s.UUID.String(), Name: gatt.Name(s.UUID), Handle: s.Handle, EndHandle: s.EndHandle, Characteristics: []JSONCharacteristic{}}
		for _, c := range s.Characteristics {
			jc := JSONCharacteristic{UUID: c.UUID.String(), Name: gatt.Name(c.UUID), Handle: c.Handle, ValueHandle: c.ValueHandle, Properties: PropertyList(c.Properties), Descriptors: []JSONDescriptor{}}
			for _, d := range c.Descriptors {
				jc.Descriptors = append(jc.Descriptors, JSONDescriptor{UUID: d.UUID.String(), Name: gatt.Name(d.UUID), Handle: d.Handle})
			}
			js.Characteristics = append(js.Characteristics, jc)
		}
		out = append(out, js)
	}
	return out
}
