// Package config reads, validates and edits the otpknock server's
// configuration file (YAML) and its users' secret files.
//
// Parse applies the defaults, then checks every field; its errors name
// the file, the field (users[1].open[0]) and the problem. Edits made by
// `otpknock user add/remove` go through the YAML node tree, so the
// administrator's comments and layout survive, and the result is parsed
// again before it replaces the file atomically.
package config
