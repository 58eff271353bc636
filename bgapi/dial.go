package bgapi

import "io"

// dialedPort is a stream from Config.Dial as a serialPort: there is no driver input buffer to
// flush.
type dialedPort struct{ io.ReadWriteCloser }

func (dialedPort) ResetInputBuffer() error { return nil }

// useDial makes cfg open its Dial stream instead of a serial port (see Config.Dial): the
// stream needs a name and must never be looked up among the serial ports.
func useDial(cfg *Config) {
	if cfg.Dial == nil || cfg.open != nil {
		return
	}
	dial := cfg.Dial
	cfg.open = func(string) (serialPort, error) {
		rw, err := dial()
		if err != nil {
			return nil, err
		}
		return dialedPort{rw}, nil
	}
	if cfg.Port == "" {
		cfg.Port = "dial"
	}
	if cfg.ports == nil {
		cfg.ports = func() ([]*portDetails, error) { return nil, nil }
	}
}
