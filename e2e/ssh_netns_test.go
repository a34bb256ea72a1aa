package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/internal/netnstest"
)

// sshPort is the service the ssh tests guard: the world's users open
// 2222-2225, whose listeners only accept.
const sshPort = "2226"

// startSSHD runs sshd in the server namespace on sshPort, accepting the
// key pair it makes in dir for root; it returns the private key's path.
func startSSHD(t *testing.T, w *world, dir string) string {
	t.Helper()
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // sshd's privilege separation directory
		t.Fatal(err)
	}
	id := filepath.Join(dir, "id_ed25519")
	for _, key := range []string{id, filepath.Join(dir, "host_ed25519")} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	pub, err := os.ReadFile(id + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	writeFileT(t, filepath.Join(dir, "authorized_keys"), string(pub))
	cfg := filepath.Join(dir, "sshd_config")
	writeFileT(t, cfg, fmt.Sprintf(`Port %s
ListenAddress %s
HostKey %s/host_ed25519
AuthorizedKeysFile %s/authorized_keys
PidFile none
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
`, sshPort, w.p.ServerV4, dir, dir))
	log := &netnstest.Buffer{}
	cmd := w.p.Cmd(w.p.Server, sshd, "-D", "-e", "-f", cfg)
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(log.String(), "Server listening"); {
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not start:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return id
}

func writeFileT(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSSHMatchExec runs the guide's ssh_config pattern for real: sshd
// behind the server's firewall, and ssh from the client namespace with a
// config whose `Match host H exec "otpknock send %h --wait"` line knocks
// before ssh connects. Without the line, ssh cannot connect; with it,
// the remote command runs. A host no profile knocks makes send exit 3.
func TestSSHMatchExec(t *testing.T) {
	netnstest.Require(t, "iptables", "ip6tables", "ssh", "sshd", "ssh-keygen")
	w := newWorld(t)
	dir := t.TempDir()
	// A store holding one profile for the host, as the guide's line
	// (%h and no --profile) needs: the world's store has several.
	uri := regexp.MustCompile(`otpauth://\S+`).FindString(w.must(w.p.Server, "user", "add", "erin", "-c", w.cfg, "--open", "tcp/"+sshPort, "--no-qr"))
	store := filepath.Join(dir, "client", "client.yaml")
	imp := w.p.Cmd(w.p.Client, bins.Client, "import", "-", "--name", "erin")
	imp.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+store)
	imp.Stdin = strings.NewReader(uri)
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("import erin: %v\n%s", err, out)
	}
	id := startSSHD(t, w, dir)
	w.startServer()

	host := w.p.ServerV4.String()
	common := fmt.Sprintf(`Host %s
    Port %s
    User root
    IdentityFile %s
    IdentitiesOnly yes
    UserKnownHostsFile /dev/null
    StrictHostKeyChecking no
    BatchMode yes
    ConnectTimeout 3
    LogLevel ERROR
`, host, sshPort, id)
	plain := filepath.Join(dir, "ssh_config.plain")
	writeFileT(t, plain, common)
	knocking := filepath.Join(dir, "ssh_config")
	writeFileT(t, knocking, common+fmt.Sprintf("\nMatch host %s exec \"%s send %%h --wait\"\n", host, bins.Client))

	ssh := func(cfg string, args ...string) (string, error) {
		cmd := w.p.Cmd(w.p.Client, append([]string{"ssh", "-F", cfg}, args...)...)
		cmd.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+store)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	exit := func(err error) int {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			return -1
		}
		return 0
	}
	// First, without a knock: the firewall drops the connection.
	if out, err := ssh(plain, host, "true"); exit(err) != 255 {
		t.Fatalf("ssh without the Match exec line: %v, want exit 255 (connection timed out)\n%s", err, out)
	}
	out, err := ssh(knocking, host, "echo", "in through the door")
	if err != nil || !strings.Contains(out, "in through the door") {
		t.Fatalf("ssh with the Match exec line: %v, want the remote command's output\n%s\nserver log:\n%s", err, out, w.log)
	}
	if !strings.Contains(w.log.String(), "user=erin") {
		t.Errorf("the server logged no grant for erin:\n%s", w.log)
	}
	send := w.p.Cmd(w.p.Client, bins.Client, "send", "198.18.0.9", "--wait")
	send.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+store)
	if out, err := send.CombinedOutput(); exit(err) != 3 || !strings.Contains(string(out), `no profile "198.18.0.9"`) {
		t.Errorf("send to a host no profile knocks: %v, want exit 3 naming it\n%s", err, out)
	}
}
