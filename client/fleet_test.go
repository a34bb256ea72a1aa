package client

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
)

// TestPlanFleet: a fleet profile's plan derives with the member key and
// identity of the name knocked (not the enrollment secret), and says
// which fleet profile and member it used; a name that is no identity is
// refused before anything is sent.
func TestPlanFleet(t *testing.T) {
	res := &fakeResolver{hosts: map[string][]netip.Addr{"bastion2.example.org": {srvV4}, "Bastion2.example.org": {srvV4}}}
	c := &Client{Clock: clocktest.NewFake(time.Unix(1_800_000_000, 0)), Resolver: res, Route: routes(dualRoutes)}
	p := testProfile("vpn.example.org", derive.ModeSequence)
	p.Name, p.ServerID, p.Fleet = "acme", "", "acme"
	want, err := derive.MemberKey(p.Secret, "acme", "bastion2.example.org")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := c.Plan(context.Background(), p, Options{Host: "Bastion2.example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if pl.Request.ServerID != "bastion2.example.org" || !bytes.Equal(pl.Request.Secret, want) {
		t.Errorf("request derives with %q, %x; want bastion2.example.org and its member key %x", pl.Request.ServerID, pl.Request.Secret, want)
	}
	if bytes.Equal(pl.Request.Secret, p.Secret) {
		t.Error("the request carries the enrollment secret")
	}
	if !strings.Contains(pl.Fleet, "fleet profile acme") || !strings.Contains(pl.Fleet, "bastion2.example.org") {
		t.Errorf("plan's Fleet = %q, want it to name the profile and the member", pl.Fleet)
	}
	if _, err := c.Plan(context.Background(), p, Options{Host: "2001:2::1"}); err == nil || !strings.Contains(err.Error(), "not a member identity") {
		t.Errorf("Plan to an IPv6 literal: %v, want a refusal naming the identity", err)
	}
	lone := testProfile("198.18.0.1", derive.ModeSequence)
	if pl, err := c.Plan(context.Background(), lone, Options{}); err != nil || pl.Fleet != "" || pl.Request.ServerID != "gw1" {
		t.Errorf("lone profile: %v, Fleet %q, server id %q; want no fleet line and gw1", err, pl.Fleet, pl.Request.ServerID)
	}
}
