package daemon

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/otpknock/otpknock/derive"
)

func TestListenersInRange(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	p := derive.DefaultParams()
	p.PortMin, p.PortMax = port, port
	got := strings.Join(ListenersInRange(p), ",")
	if !strings.Contains(got, "tcp/"+strconv.Itoa(int(port))) {
		t.Errorf("ListenersInRange = %q, want tcp/%d listed", got, port)
	}
	p.Protocols = derive.Protocols(derive.UDP)
	if got := ListenersInRange(p); len(got) != 0 {
		t.Errorf("udp only: %v, want the tcp listener ignored", got)
	}
}
