package servercmd

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/fleet"
)

// TestFleetUserGrantPrefix: user add --grant-prefix in a fleet seals
// the prefix into every member's record (and its label), keeps it in
// the enrollment, so fleet sync gives it to a member added later, and
// user list shows it in a GRANT column as the local list does.
func TestFleetUserGrantPrefix(t *testing.T) {
	h := newFleetHarness(t)
	h.addMember("m1", "vpn.example.org")
	h.addMember("m2", "vpn.example.org")
	h.mustRun(h.userArgs("add", "alice", "--no-qr")...)
	out := h.mustRun(h.userArgs("add", "carol", "--grant-prefix", "24", "--no-qr")...)
	if !strings.Contains(out, "Enrolled carol in fleet acme: opens tcp/22, grants open /24,/128 around the address; sealed for m1, m2.") {
		t.Errorf("user add does not say what carol's grants open:\n%s", out)
	}
	es, err := fleet.LoadEnrollments(h.enroll)
	if err != nil {
		t.Fatal(err)
	}
	saved := map[string]string{}
	for _, e := range es {
		saved[e.User] = e.GrantPrefix
	}
	if diff := cmp.Diff(map[string]string{"alice": "", "carol": "24,128"}, saved); diff != "" {
		t.Errorf("enrollments' grant_prefix (-want +got):\n%s", diff)
	}
	h.addMember("m3", "bastion3.example.org")
	if got := h.mustRun(h.fleetArgs("sync")...); !strings.Contains(got, "carol: sealed for m3") {
		t.Fatalf("sync:\n%s", got)
	}
	recs, _ := h.store.Records(context.Background())
	got := map[string]string{}
	for _, r := range recs {
		id := map[string]string{"m1": "vpn.example.org", "m2": "vpn.example.org", "m3": "bastion3.example.org"}[r.Member]
		k, err := fleet.Open(r, h.members[r.Member], r.Member, id, mustAdminPublic(t, h.key))
		if err != nil {
			t.Fatal(err)
		}
		got[r.User+"@"+r.Member] = k.GrantPrefix + " label " + r.GrantPrefix
	}
	want := map[string]string{"alice@m1": " label ", "alice@m2": " label ", "alice@m3": " label ",
		"carol@m1": "24,128 label 24,128", "carol@m2": "24,128 label 24,128", "carol@m3": "24,128 label 24,128"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sealed grant_prefix and label per record (-want +got):\n%s", diff)
	}
	wantList := "NAME   KNOCK     AUTH  MEMBERS   MISSING  GRANT\n" +
		"alice  sequence  hmac  m1,m2,m3  -        address\n" +
		"carol  sequence  hmac  m1,m2,m3  -        /24,/128\n"
	if diff := cmp.Diff(wantList, h.mustRun(h.userArgs("list")...)); diff != "" {
		t.Errorf("user list (-want +got):\n%s", diff)
	}

	// An enrollment edited to a prefix user add refuses: sync seals nothing.
	path := fleet.EnrollmentPath(h.enroll, "carol")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(`"grant_prefix":"24,128"`), []byte(`"grant_prefix":"8,128"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	h.addMember("m4", "bastion4.example.org")
	_, err = h.run(h.fleetArgs("sync")...)
	if cli.ExitCode(err) != 2 || !strings.Contains(err.Error(), "grant_prefix: v4: /8") || strings.Contains(err.Error(), "\n") {
		t.Errorf("sync of an enrollment with grant_prefix 8: %v (exit %d), want one line naming grant_prefix, exit 2", err, cli.ExitCode(err))
	}
	recs, _ = h.store.Records(context.Background())
	for _, r := range recs {
		if r.Member == "m4" {
			t.Errorf("sync sealed %s for m4 after refusing carol's enrollment", r.User)
		}
	}
}
