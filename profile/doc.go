// Package profile stores the client's profiles: one per (server, user),
// each holding the secret and knock parameters imported from a
// provisioning URI. The store is one YAML file, mode 0600 (it holds
// secrets; a file readable by others is refused), replaced atomically.
package profile
