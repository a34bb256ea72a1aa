package derive

import (
	"fmt"
	"strings"
)

// Mode is how a user knocks (docs/spec.md sections 10 and 11). The server
// config, the client profiles and the provisioning URIs all carry it.
type Mode uint8

// The knock modes; the zero value is a sequence, as when a URI or a
// config has no knock field.
const (
	ModeSequence Mode = iota // a sequence of bare knocks
	ModePacket               // one packet whose payload carries a MAC
)

// String returns "sequence" or "packet", the knock field's values.
func (m Mode) String() string {
	if m == ModePacket {
		return "packet"
	}
	return "sequence"
}

// ParseMode reads a knock field: "" or "sequence", or "packet" (any
// case).
func ParseMode(s string) (Mode, error) {
	switch {
	case s == "" || strings.EqualFold(s, "sequence"):
		return ModeSequence, nil
	case strings.EqualFold(s, "packet"):
		return ModePacket, nil
	}
	return 0, fmt.Errorf("%q must be sequence or packet", s)
}

// MarshalText writes the mode as its String.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads a mode with [ParseMode], so YAML files can hold it.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}
