package listener

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// nlmsg builds a netlink message of type typ around body.
func nlmsg(typ uint16, body []byte) []byte {
	b := make([]byte, 16, 16+len(body)+3)
	binary.NativeEndian.PutUint32(b, uint32(16+len(body)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	b = append(b, body...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func nla(typ uint16, v []byte) []byte {
	b := make([]byte, 4, 4+len(v)+3)
	binary.NativeEndian.PutUint16(b, uint16(4+len(v)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// packetMsg is an NFLOG packet message as the kernel sends it: nfgenmsg,
// packet header, prefix, sequence number and payload.
func packetMsg(seq uint32, payload []byte) []byte {
	body := []byte{2, 0, 0x12, 0x67} // AF_INET, v0, group 4711
	body = append(body, nla(nfulaPacketHdr, []byte{0x08, 0x00, 1, 0})...)
	body = append(body, nla(10, []byte("otpknock\x00"))...)
	body = append(body, nla(nfulaTimestamp, binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, 1800000000), 250000))...)
	body = append(body, nla(nfulaSeq, binary.BigEndian.AppendUint32(nil, seq))...)
	body = append(body, nla(nfulaPayload|0x4000, payload)...)
	return nlmsg(msgPacket, body)
}

func TestNFLOGMessages(t *testing.T) {
	pkt := ip4(17, 0, 0, udp(40123))
	dgram := append(packetMsg(7, pkt), packetMsg(9, ip4(6, 0, 0, tcp(20000, 2)))...)
	dgram = append(dgram, nlmsg(nlmsgDone, []byte{0, 0, 0, 0})...)
	var n NFLOG
	var got []Packet
	n.handle(dgram, func(p Packet) { got = append(got, p) })
	if len(got) != 2 || got[0].Knock.Port != 40123 || got[1].Knock.Port != 20000 || !got[0].At.Equal(time.Unix(1800000000, 250e6)) {
		t.Fatalf("packets %+v", got)
	}
	st := n.Stats()
	if st.Messages != 2 || st.Knocks != 2 || st.Lost != 1 || st.Malformed != 0 {
		t.Errorf("stats %+v, want 2 messages, 2 knocks, 1 lost (seq 8), 0 malformed", st)
	}
	for name, bad := range map[string][]byte{
		"length beyond datagram": packetMsg(1, pkt)[:30],
		"attr length beyond":     nlmsg(msgPacket, append([]byte{2, 0, 0, 0}, 0xff, 0x00, 9, 0)),
		"no payload":             nlmsg(msgPacket, []byte{2, 0, 0, 0}),
		"short nfgenmsg":         nlmsg(msgPacket, []byte{2}),
		"bad timestamp size":     nlmsg(msgPacket, append(append([]byte{2, 0, 0, 0}, nla(nfulaTimestamp, []byte{1, 2})...), nla(nfulaPayload, pkt)...)),
		"bad seq size":           nlmsg(msgPacket, append([]byte{2, 0, 0, 0}, nla(nfulaSeq, []byte{1})...)),
		"undecodable payload":    packetMsg(1, []byte{0x45}),
	} {
		var n NFLOG
		n.handle(bad, func(p Packet) { t.Errorf("%s: delivered %+v", name, p) })
		if n.Stats().Malformed == 0 {
			t.Errorf("%s: not counted as malformed", name)
		}
	}
	if err := walkMessages([]byte{1, 2, 3}, func(uint16, []byte) {}); !errors.Is(err, ErrMessage) {
		t.Errorf("walkMessages(3 bytes) = %v", err)
	}
}

// TestBatchBytes checks the exact requests that set batching: no ACK
// flag (the answer would arrive among the packets), then the buffer size
// (64 KiB), the flush timeout (1/100 s) and the queue threshold, or the
// threshold 1 alone.
func TestBatchBytes(t *testing.T) {
	want := map[uint32]string{
		64: "2c000000" + "0104" + "0100" + "00000000" + "00000000" +
			"00001267" +
			"0800" + "0300" + "00010000" + // nfulaCfgNlbufsiz 65536
			"0800" + "0400" + "00000001" + // nfulaCfgTimeout 1
			"0800" + "0500" + "00000040", // nfulaCfgQthresh 64
		1: "1c000000" + "0104" + "0100" + "00000000" + "00000000" +
			"00001267" +
			"0800" + "0500" + "00000001", // nfulaCfgQthresh 1
	}
	for _, queue := range []uint32{64, 1} {
		b := batchRequest(4711, queue).Serialize()
		copy(b[8:12], []byte{0, 0, 0, 0})
		if got := hex.EncodeToString(b); got != want[queue] {
			t.Errorf("queue %d:\n got %s\nwant %s", queue, got, want[queue])
		}
	}
}

// TestConfigBytes checks the exact nfulnlMsgConfig requests: nfgenmsg
// before the attributes, the group big-endian in res_id, copy-packet
// mode with the copy range, queue threshold 1 and sequence numbers.
func TestConfigBytes(t *testing.T) {
	reqs := configRequests(DefaultOptions(4711))
	want := []string{
		// nlmsghdr: len 28, type 0x0401, flags REQUEST|ACK, seq (zeroed), pid 0
		"1c000000" + "0104" + "0500" + "00000000" + "00000000" +
			"00001267" + // nfgenmsg: AF_UNSPEC, v0, res_id 4711
			"0500" + "0100" + "01000000", // nfulaCfgCmd = BIND
		"30000000" + "0104" + "0500" + "00000000" + "00000000" +
			"00001267" +
			"0a00" + "0200" + "00000180" + "0200" + "0000" + // nfulaCfgMode: range 384, COPY_PACKET
			"0800" + "0500" + "00000001" + // nfulaCfgQthresh 1
			"0600" + "0600" + "0001" + "0000", // nfulaCfgFlags SEQ
	}
	if len(reqs) != len(want) {
		t.Fatalf("%d requests, want %d", len(reqs), len(want))
	}
	for i, r := range reqs {
		b := r.Serialize()
		copy(b[8:12], []byte{0, 0, 0, 0}) // sequence numbers vary
		if got := hex.EncodeToString(b); got != want[i] {
			t.Errorf("request %d:\n got %s\nwant %s", i, got, want[i])
		}
	}
}

func FuzzNetlink(f *testing.F) {
	f.Add(packetMsg(1, ip4(17, 0, 0, udp(40123))))
	f.Add(append(packetMsg(5, ip6(58, nil, echo(128, 3))), nlmsg(nlmsgDone, nil)...))
	f.Add(packetMsg(6, ip4(17, 0, 0, udpWith(40123, data(64)))[:70]))
	f.Fuzz(func(t *testing.T, b []byte) {
		var n NFLOG
		n.handle(b, func(p Packet) {
			if !p.Src.IsValid() || p.Knock.Port == 0 || !aliases(b, p.Payload) || (p.Truncated && p.Payload != nil) {
				t.Fatalf("bad packet %+v from %x", p, b)
			}
		})
	})
}

// TestNFLOGTruncated counts a knock whose payload the copy range cut:
// it is delivered, without its payload.
func TestNFLOGTruncated(t *testing.T) {
	whole := ip4(17, 0, 0, udpWith(40123, data(64)))
	var n NFLOG
	var got []Packet
	n.handle(append(packetMsg(1, whole), packetMsg(2, whole[:70])...), func(p Packet) { got = append(got, p) })
	if len(got) != 2 || !bytes.Equal(got[0].Payload, data(64)) || got[1].Payload != nil || !got[1].Truncated {
		t.Fatalf("packets %+v, want the whole payload, then none (truncated)", got)
	}
	want := Stats{Messages: 2, Knocks: 2, Truncated: 1}
	if diff := cmp.Diff(want, n.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}
