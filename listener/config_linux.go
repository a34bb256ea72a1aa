package listener

import (
	"encoding/binary"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// cmdRequest is an nfulnlMsgConfig request carrying one command for
// the group. The nfgenmsg header goes in with AddData so that it is
// serialized before the attributes.
func cmdRequest(group uint16, cmd uint8) *nl.NetlinkRequest {
	req := configRequest(group)
	req.AddData(nl.NewRtAttr(nfulaCfgCmd, []byte{cmd}))
	return req
}

func configRequest(group uint16) *nl.NetlinkRequest {
	return configRequestFlags(group, unix.NLM_F_ACK)
}

func configRequestFlags(group uint16, flags int) *nl.NetlinkRequest {
	req := nl.NewNetlinkRequest(nfnlSubsysULOG<<8|nfulnlMsgConfig, flags)
	var res [2]byte
	binary.BigEndian.PutUint16(res[:], group)
	req.AddData(&nl.Nfgenmsg{NfgenFamily: unix.AF_UNSPEC, Version: 0, ResId: nl.NativeEndian().Uint16(res[:])})
	return req
}

// configRequests binds the group, then sets copy-packet mode with the
// copy range, a one-packet queue threshold (no batching delay) and
// per-instance sequence numbers.
func configRequests(o Options) []*nl.NetlinkRequest {
	mode := configRequest(o.Group)
	m := make([]byte, 6) // struct nfulnl_msg_config_mode
	binary.BigEndian.PutUint32(m, o.CopyRange)
	m[4] = nfulnlCopyPacket
	mode.AddData(nl.NewRtAttr(nfulaCfgMode, m))
	mode.AddData(nl.NewRtAttr(nfulaCfgQthresh, binary.BigEndian.AppendUint32(nil, 1)))
	mode.AddData(nl.NewRtAttr(nfulaCfgFlags, binary.BigEndian.AppendUint16(nil, nfulnlCfgFSeq)))
	return []*nl.NetlinkRequest{cmdRequest(o.Group, nfulnlCfgCmdBind), mode}
}

// Batching (batchRequest): the kernel sends a datagram when it holds
// the queue threshold's count of messages, batchBytes of them, or
// batchTimeout after the first.
const (
	batchBytes   = 64 << 10
	batchTimeout = 1 // 1/100 s, the kernel's unit
)

// batchRequest sets how the kernel hands logged packets over: in
// batches of queue messages (with a buffer of batchBytes and a flush
// timeout of batchTimeout), or one message at a time when queue is 1 (as
// configRequests sets it). It asks for no acknowledgement: Run sends it
// while it reads packets from the socket.
func batchRequest(group uint16, queue uint32) *nl.NetlinkRequest {
	req := configRequestFlags(group, 0)
	if queue > 1 {
		req.AddData(nl.NewRtAttr(nfulaCfgNlbufsiz, binary.BigEndian.AppendUint32(nil, batchBytes)))
		req.AddData(nl.NewRtAttr(nfulaCfgTimeout, binary.BigEndian.AppendUint32(nil, batchTimeout)))
	}
	req.AddData(nl.NewRtAttr(nfulaCfgQthresh, binary.BigEndian.AppendUint32(nil, queue)))
	return req
}
