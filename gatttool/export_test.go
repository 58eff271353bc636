package gatttool

import "time"

// WithATTTimeout lowers the age at which a 0x0e error is taken for gatttool's 30 s ATT
// transaction timeout, so that the stand-in can test that path at once.
func WithATTTimeout(c Config, d time.Duration) Config {
	c.attTimeout = d
	return c
}
