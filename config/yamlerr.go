package config

import "github.com/otpknock/otpknock/internal/yamlerr"

// explain rewrites yaml's decoding errors to name the line and field,
// and the known field a misspelt one likely means.
func explain(data []byte, err error) error { return yamlerr.ExplainFor(data, err, file{}) }
