package client

import "fmt"

// keyFor returns the secret and server id the plan's knock derives with:
// the profile's own, or for a fleet profile the member key of the name
// knocked (docs/spec.md section 14), which the plan records in Fleet (Knock says it on Status).
func keyFor(pl *Plan) ([]byte, string, error) {
	p := pl.Profile
	secret, serverID, err := p.KeyFor(pl.Host)
	if err != nil {
		return nil, "", fmt.Errorf("profile %s: %w", p.Name, err)
	}
	if p.Fleet != "" {
		pl.Fleet = fmt.Sprintf("fleet profile %s (fleet %s): knocking member %s with its own key", p.Name, p.Fleet, serverID)
	}
	return secret, serverID, nil
}
