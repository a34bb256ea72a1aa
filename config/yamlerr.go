package config

import "github.com/otpknock/otpknock/internal/yamlerr"

// explain rewrites yaml's decoding errors to name the line and field.
func explain(data []byte, err error) error { return yamlerr.Explain(data, err) }
