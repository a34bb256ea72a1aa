package listener

import (
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// wantConfig is an NFULNL_MSG_CONFIG request for group as the kernel
// expects it, built with the netlink package: the nfgenmsg header
// (AF_UNSPEC, version 0, the group big-endian in res_id), then attrs.
func wantConfig(group uint16, attrs ...*nl.RtAttr) *nl.NetlinkRequest {
	req := nl.NewNetlinkRequest(nfnlSubsysULOG<<8|nfulnlMsgConfig, unix.NLM_F_ACK)
	resID := nl.NativeEndian().Uint16(binary.BigEndian.AppendUint16(nil, group))
	req.AddData(&nl.Nfgenmsg{NfgenFamily: unix.AF_UNSPEC, Version: nfnetlinkV0, ResId: resID})
	for _, a := range attrs {
		req.AddData(a)
	}
	return req
}

// nfnetlinkV0 is NFNETLINK_V0, the only nfgenmsg version.
const nfnetlinkV0 = 0

func wantBind(group uint16) *nl.NetlinkRequest {
	return wantConfig(group, nl.NewRtAttr(nfulaCfgCmd, []byte{nfulnlCfgCmdBind}))
}

// wantMode sets copy-packet mode with a 384-byte range (struct
// nfulnl_msg_config_mode: range, mode, padding), a queue threshold of 1
// and sequence numbers.
func wantMode(group uint16) *nl.NetlinkRequest {
	return wantConfig(group,
		nl.NewRtAttr(nfulaCfgMode, []byte{0, 0, 1, 128, nfulnlCopyPacket, 0}),
		nl.NewRtAttr(nfulaCfgQthresh, []byte{0, 0, 0, 1}),
		nl.NewRtAttr(nfulaCfgFlags, []byte{0, nfulnlCfgFSeq}))
}

// TestConfigure drives the bind and mode requests against the fake
// kernel: the exact bytes of each, and how each answer maps to an error.
func TestConfigure(t *testing.T) {
	const group = 4711
	const bind = "request 1 type 0x0401 flags 0x5, 28 bytes: "
	const mode = "request 2 type 0x0401 flags 0x5, 48 bytes: "
	tests := []struct {
		name      string
		bindErr   syscall.Errno
		modeErr   syscall.Errno
		netAdmin  bool
		is        []error // errors.Is must hold for each; none: success
		not       []error
		msg       string // a part of the error's text
		asked     int    // times netAdmin was asked
		wantState string
	}{
		{name: "acknowledged", wantState: bind + "ACK\n" + mode + "ACK"},
		{name: "EPERM without CAP_NET_ADMIN", bindErr: unix.EPERM,
			is: []error{os.ErrPermission, unix.EPERM}, not: []error{ErrGroupTaken},
			msg: "configuring nflog_group 4711: permission denied (operation not permitted; needs root or CAP_NET_ADMIN)", asked: 1,
			wantState: bind + "error 1 (operation not permitted)\n1 scripted requests not sent"},
		{name: "EPERM with CAP_NET_ADMIN: the group is taken", bindErr: unix.EPERM, netAdmin: true,
			is: []error{ErrGroupTaken}, not: []error{os.ErrPermission},
			msg: "nflog_group 4711: the NFLOG group is taken by another program (another otpknock server, ulogd?)", asked: 1,
			wantState: bind + "error 1 (operation not permitted)\n1 scripted requests not sent"},
		{name: "EACCES", bindErr: unix.EACCES, netAdmin: true,
			is: []error{os.ErrPermission, unix.EACCES}, not: []error{ErrGroupTaken},
			msg:       "permission denied (permission denied; needs root or CAP_NET_ADMIN)",
			wantState: bind + "error 13 (permission denied)\n1 scripted requests not sent"},
		{name: "EBUSY", bindErr: unix.EBUSY,
			is: []error{ErrGroupTaken}, not: []error{os.ErrPermission},
			msg:       "the NFLOG group is taken",
			wantState: bind + "error 16 (device or resource busy)\n1 scripted requests not sent"},
		{name: "mode refused", modeErr: unix.EINVAL,
			is: []error{unix.EINVAL}, not: []error{os.ErrPermission, ErrGroupTaken},
			msg:       "configuring nflog_group 4711: invalid argument",
			wantState: bind + "ACK\n" + mode + "error 22 (invalid argument)"},
		{name: "no NFLOG in the kernel", bindErr: unix.ENOENT,
			is: []error{os.ErrNotExist}, not: []error{os.ErrPermission, ErrGroupTaken},
			msg:       "configuring nflog_group 4711: file does not exist",
			wantState: bind + "error 2 (no such file or directory)\n1 scripted requests not sent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeConn{script: []exchange{{want: wantBind(group), errno: tt.bindErr}, {want: wantMode(group), errno: tt.modeErr}}}
			asked := 0
			err := configure(f, DefaultOptions(group), func() bool { asked++; return tt.netAdmin })
			if len(tt.is) == 0 && err != nil {
				t.Fatalf("configure: %v", err)
			}
			if len(tt.is) != 0 && (err == nil || !strings.Contains(err.Error(), tt.msg)) {
				t.Fatalf("configure: %v, want an error containing %q", err, tt.msg)
			}
			for _, e := range tt.is {
				if !errors.Is(err, e) {
					t.Errorf("errors.Is(%v, %v) = false", err, e)
				}
			}
			for _, e := range tt.not {
				if errors.Is(err, e) {
					t.Errorf("errors.Is(%v, %v) = true", err, e)
				}
			}
			if asked != tt.asked {
				t.Errorf("netAdmin asked %d times, want %d", asked, tt.asked)
			}
			if diff := cmp.Diff(tt.wantState, f.String()); diff != "" {
				t.Errorf("fake netlink state (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConfigureChecksBytes shows the fake refusing a request that
// differs from what the kernel expects: here, another group.
func TestConfigureChecksBytes(t *testing.T) {
	f := &fakeConn{script: []exchange{{want: wantBind(4712)}, {want: wantMode(4712)}}}
	err := configure(f, DefaultOptions(4711), func() bool { return false })
	if !errors.Is(err, errFakeConn) {
		t.Fatalf("configure for the wrong group: %v, want the fake's refusal", err)
	}
	want := "request 1 differs (sequence number zeroed):\n" +
		"  got  1c000000010405000000000000000000000012670500010001000000\n" +
		"  want 1c000000010405000000000000000000000012680500010001000000\n" +
		"2 scripted requests not sent"
	if diff := cmp.Diff(want, f.String()); diff != "" {
		t.Errorf("fake netlink state (-want +got):\n%s", diff)
	}
}

// TestConfigureReceiveError passes on a failed read of the answer.
func TestConfigureReceiveError(t *testing.T) {
	f := &fakeConn{script: []exchange{{want: wantBind(4711), noReply: true}}}
	err := configure(f, DefaultOptions(4711), func() bool { return false })
	if !errors.Is(err, errFakeConn) || !strings.HasPrefix(err.Error(), "configuring nflog_group 4711: ") {
		t.Fatalf("configure: %v, want the receive error with context", err)
	}
	want := "request 1 type 0x0401 flags 0x5, 28 bytes: no reply\nreceive with no reply waiting"
	if diff := cmp.Diff(want, f.String()); diff != "" {
		t.Errorf("fake netlink state (-want +got):\n%s", diff)
	}
}

// TestClose unbinds the group, then closes the connection.
func TestClose(t *testing.T) {
	f := &fakeConn{script: []exchange{{want: wantConfig(4711, nl.NewRtAttr(nfulaCfgCmd, []byte{nfulnlCfgCmdUnbind}))}}}
	n := &NFLOG{conn: f, opts: DefaultOptions(4711)}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	want := "request 1 type 0x0401 flags 0x5, 28 bytes: ACK\nclosed\n1 replies not received"
	if diff := cmp.Diff(want, f.String()); diff != "" {
		t.Errorf("fake netlink state (-want +got):\n%s", diff)
	}
}
