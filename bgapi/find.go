package bgapi

// FindBLED112 returns the serial ports of the BLED112s plugged in (USB ID 2458:0001), sorted by
// name, as Config.Port's auto-detection finds them; none is not an error. Where USB IDs
// cannot be read (macOS without cgo) every USB serial port of unknown identity is listed.
func FindBLED112() ([]string, error) {
	found, err := findBLED112(listPorts)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(found))
	for _, p := range found {
		out = append(out, p.Name)
	}
	return out, nil
}
