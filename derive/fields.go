package derive

import "time"

// Fields is the textual form of [Params] shared by the server config,
// client profiles and provisioning URIs. Its tags name the config keys.
type Fields struct {
	Step       time.Duration `yaml:"step"`
	Knocks     int           `yaml:"knocks"`
	KnockRange string        `yaml:"knock_range"`
	Protocols  []string      `yaml:"protocols,flow"`
	Exclude    []uint16      `yaml:"exclude,flow"`
}

// DefaultFields returns the textual form of [DefaultParams].
func DefaultFields() Fields { return FieldsOf(DefaultParams()) }

// FieldsOf returns the textual form of p.
func FieldsOf(p Params) Fields {
	f := Fields{Step: p.Period, Knocks: p.Knocks, KnockRange: p.RangeString(), Exclude: p.excluded()}
	for _, x := range p.Protocols.List() {
		f.Protocols = append(f.Protocols, x.String())
	}
	if f.Exclude == nil {
		f.Exclude = []uint16{}
	}
	return f
}

// Params parses and validates the fields. Its errors are [*FieldError]s.
func (f Fields) Params() (Params, error) {
	protos, err := ParseProtocols(f.Protocols)
	if err != nil {
		return Params{}, &FieldError{Field: FieldProtocols, Err: err}
	}
	lo, hi, err := ParseRange(f.KnockRange)
	if err != nil {
		return Params{}, &FieldError{Field: FieldRange, Err: err}
	}
	p := Params{Period: f.Step, Knocks: f.Knocks, Protocols: protos, PortMin: lo, PortMax: hi, Exclude: f.Exclude}
	if err := p.Validate(); err != nil {
		return Params{}, err
	}
	return p, nil
}
