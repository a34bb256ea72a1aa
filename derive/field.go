package derive

import (
	"fmt"
	"strconv"
)

// Field is an input of the derivation that an error can be about. Its
// String is the name docs/spec.md uses; callers that spell the field
// otherwise (a config key, a URI parameter, a flag) name it with
// [Rename].
type Field uint8

// The fields a [FieldError] can name.
const (
	FieldSecret    Field = iota + 1 // the shared secret
	FieldServerID                   // the server's identity
	FieldPeriod                     // the step length, [Params].Period
	FieldKnocks                     // knocks per sequence
	FieldProtocols                  // the knock protocols
	FieldRange                      // the knock range, PortMin-PortMax
	FieldExclude                    // the excluded ports
	// FieldStrength is knocks, protocols and range together: the error
	// is that they give too little entropy per sequence.
	FieldStrength
)

// String returns the field's name, e.g. "knock range".
func (f Field) String() string {
	switch f {
	case FieldSecret:
		return "secret"
	case FieldServerID:
		return "server id"
	case FieldPeriod:
		return "period"
	case FieldKnocks:
		return "knocks"
	case FieldProtocols:
		return "protocols"
	case FieldRange:
		return "knock range"
	case FieldExclude:
		return "exclude"
	case FieldStrength:
		return "knocks, protocols and knock range"
	}
	return "field(" + strconv.Itoa(int(f)) + ")"
}

// Key returns the field's key in otpknock's YAML files (the server config
// and the client profiles), as the tags of [Fields] spell it:
// "knock_range". It is the name for [Rename] in those files.
func (f Field) Key() string {
	switch f {
	case FieldServerID:
		return "server_id"
	case FieldPeriod:
		return "step"
	case FieldRange:
		return "knock_range"
	case FieldStrength:
		return "knocks, protocols, knock_range"
	}
	return f.String()
}

// FieldError is an invalid input: the field and the problem. Find it
// with errors.As.
type FieldError struct {
	Field Field
	Err   error
}

func fieldError(f Field, format string, a ...any) *FieldError {
	return &FieldError{Field: f, Err: fmt.Errorf(format, a...)}
}

// Error returns "field: problem".
func (e *FieldError) Error() string { return e.Field.String() + ": " + e.Err.Error() }

// Unwrap returns the problem.
func (e *FieldError) Unwrap() error { return e.Err }

// Rename returns err with its field called name(field), for a caller
// that spells the field its own way; errors.As still finds the
// [FieldError]. An err that is not a *FieldError (nil, another error, or
// one wrapped in more context) is returned as it is.
func Rename(err error, name func(Field) string) error {
	fe, ok := err.(*FieldError)
	if !ok {
		return err
	}
	return &renamed{name: name(fe.Field), fe: fe}
}

// renamed is a FieldError under a caller's name for its field.
type renamed struct {
	name string
	fe   *FieldError
}

func (r *renamed) Error() string { return r.name + ": " + r.fe.Err.Error() }
func (r *renamed) Unwrap() error { return r.fe }
