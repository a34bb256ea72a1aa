package client_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/otpknock/otpknock/client"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/profile"
	"github.com/otpknock/otpknock/provision"
	"github.com/otpknock/otpknock/sender/sendertest"
)

// A provisioning URI as otpknockd user add prints it (a test secret).
const exampleURI = "otpauth://totp/otpknock:alice@gw1?algorithm=SHA256&bind=0&digits=6&exclude=&host=198.18.0.1&issuer=otpknock&knocks=4&open=tcp%2F22&otpknock=1&period=30&protocols=tcp%2Cudp&range=20000-59999&secret=5EEXDJMVCJTH2EBPJ3QRG7GLC53O234NNE6XVUNU6BVGI37CZ2MQ&server=gw1&user=alice"

// Example knocks for a profile made from a URI and waits for its ssh
// service. A program sets Clock to clock.System{} and leaves Writer,
// Prober and Route nil to knock for real (the kernel's sockets, a TCP
// dial, the kernel's routes), and takes an imported profile from the client's
// store with profile.Load(path) and Store.Lookup(name or host), path
// being profile.DefaultPath(os.Getenv). Here a fake clock, sender and
// service stand in, so the example runs without a network.
func Example() {
	acct, err := provision.ParseURI(exampleURI)
	if err != nil {
		fmt.Println(err)
		return
	}
	p := profile.Profile{Name: "gw1", Account: acct}

	start := time.Date(2026, 12, 7, 23, 0, 1, 0, time.UTC)
	clk := clocktest.NewFake(start)
	sent := &sendertest.Fake{Clock: clk, Start: start}
	c := &client.Client{
		Clock:  clk,
		Writer: sent,
		Prober: &sendertest.FakeProber{Clock: clk, Open: func(time.Time) bool { return len(sent.String()) > 0 }},
		Route:  func(netip.Addr) (netip.Addr, error) { return netip.MustParseAddr("198.18.0.2"), nil },
		Gap:    50 * time.Millisecond,
	}
	port, _ := client.DefaultService(p)
	plan, err := c.Plan(context.Background(), p, client.Options{Wait: port, Timeout: 5 * time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	got, err := c.Knock(context.Background(), plan, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	got.Conn.Close()
	fmt.Printf("sent:\n%v\n", sent)
	fmt.Printf("%v open after %d attempt(s), step %d\n", plan.Wait.Addr, got.Attempts, got.Result.Step)
	// Output:
	// sent:
	//   0.00s tcp/34669 -> 198.18.0.1
	//   0.05s tcp/54307 -> 198.18.0.1
	//   0.10s tcp/51533 -> 198.18.0.1
	//   0.15s tcp/29258 -> 198.18.0.1
	// 198.18.0.1:22 open after 1 attempt(s), step 59889480
}
