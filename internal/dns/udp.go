package dns

import (
	"encoding/binary"
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
)

// udpBatch is how many questions one read takes from the socket, and how many answers one
// write sends.
const udpBatch = 64

// serveUDP answers DNS on one UDP socket in batches: one recvmmsg takes every question that
// is waiting (up to udpBatch), the ones this node answers from memory (cluster names, and
// forwarded names the cache holds) are answered in this goroutine, and their answers leave
// with one sendmmsg. Under load the two system calls per question of a read-answer-write loop
// (and a goroutine each) become two per batch; a question that needs an upstream exchange gets
// a goroutine of its own, so it never holds up the others. The socket is bound to one address,
// so answers leave from the address the question came to without control messages. It returns
// when the socket is closed, or when stop is set (and a read deadline wakes it).
func serveUDP(pc *net.UDPConn, h *handler, stop *atomic.Bool) {
	// ipv4.PacketConn's batch calls are recvmmsg/sendmmsg on any UDP socket, IPv6 ones too.
	bc := ipv4.NewPacketConn(pc)
	in := make([]ipv4.Message, udpBatch)
	for i := range in {
		// A question fits: a longer datagram arrives cut short, fails to unpack and gets FORMERR.
		in[i].Buffers = [][]byte{make([]byte, 4096)}
	}
	out := make([]ipv4.Message, 0, udpBatch)
	bufs := make([][]byte, udpBatch)
	for i := range bufs {
		bufs[i] = make([]byte, 0, 4096)
	}
	local := pc.LocalAddr()
	for !stop.Load() {
		n, err := bc.ReadBatch(in, 0)
		if err != nil {
			if isClosed(err) || stop.Load() {
				return
			}
			time.Sleep(time.Millisecond) // a transient error (ENOBUFS ...): try again
			continue
		}
		out = out[:0]
		for i := range n {
			m := in[i].Buffers[0][:in[i].N]
			req, resp := acceptUDP(m)
			if req == nil && resp == nil {
				continue
			}
			w := &batchWriter{local: local, remote: in[i].Addr, buf: bufs[len(out)][:0]}
			switch {
			case resp != nil:
				_ = w.WriteMsg(resp)
			case h.answersAtOnce(req):
				h.ServeDNS(w, req)
			default:
				go h.ServeDNS(&udpWriter{pc: pc, remote: in[i].Addr}, req)
				continue
			}
			if w.out != nil {
				out = append(out, ipv4.Message{Buffers: [][]byte{w.out}, Addr: in[i].Addr})
				bufs[len(out)-1] = w.out[:0] // keep a grown buffer
			}
		}
		for len(out) > 0 {
			sent, err := bc.WriteBatch(out, 0)
			if err != nil {
				if isClosed(err) {
					return
				}
				break // the client's loss, as a failed write of one answer would be
			}
			out = out[sent:]
		}
	}
}

// acceptUDP reads a question as miekg/dns's server does: nothing back for what is not a
// question (an answer could amplify), FORMERR or NOTIMP for what it cannot take.
func acceptUDP(m []byte) (req, resp *dns.Msg) {
	if len(m) < 12 {
		return nil, nil
	}
	dh := dns.Header{Id: binary.BigEndian.Uint16(m), Bits: binary.BigEndian.Uint16(m[2:]),
		Qdcount: binary.BigEndian.Uint16(m[4:]), Ancount: binary.BigEndian.Uint16(m[6:]),
		Nscount: binary.BigEndian.Uint16(m[8:]), Arcount: binary.BigEndian.Uint16(m[10:])}
	action := dns.DefaultMsgAcceptFunc(dh)
	if action == dns.MsgIgnore {
		return nil, nil
	}
	req = new(dns.Msg)
	if action == dns.MsgAccept {
		if err := req.Unpack(m); err == nil {
			return req, nil
		}
	}
	resp = new(dns.Msg)
	resp.Id, resp.Response = dh.Id, true
	resp.Opcode = int(dh.Bits>>11) & 0xF
	resp.Rcode = dns.RcodeFormatError
	if action == dns.MsgRejectNotImplemented {
		resp.Rcode = dns.RcodeNotImplemented
	}
	return nil, resp
}

// answersAtOnce says whether req is answered without waiting on an upstream: a name of the
// node's zones whose answer follows no alias out of them, or a forwarded name the cache holds.
func (h *handler) answersAtOnce(req *dns.Msg) bool {
	if len(req.Question) != 1 || req.Opcode != dns.OpcodeQuery {
		return true // an error answer
	}
	q := req.Question[0]
	name := dns.CanonicalName(q.Name)
	if h.clusterOrigin != "" && (name == h.clusterOrigin || dns.IsSubDomain(h.clusterOrigin, name)) && h.cluster.Load() == nil {
		return false // waits for the first sync
	}
	if res, ok := h.lookup(q); ok {
		return res.cname == "" || h.fwd == nil
	}
	return h.fwd == nil || h.fwd.cache.has(keyOf(req), h.fwd.now())
}

func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }

// batchWriter keeps one answer for the batch's write.
type batchWriter struct {
	local, remote net.Addr
	buf, out      []byte
}

func (w *batchWriter) LocalAddr() net.Addr  { return w.local }
func (w *batchWriter) RemoteAddr() net.Addr { return w.remote }
func (w *batchWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.PackBuffer(w.buf)
	if err != nil {
		return err
	}
	w.out = b
	return nil
}
func (w *batchWriter) Write(b []byte) (int, error) { w.out = append(w.buf, b...); return len(b), nil }
func (w *batchWriter) Close() error                { return nil }
func (w *batchWriter) TsigStatus() error           { return nil }
func (w *batchWriter) TsigTimersOnly(bool)         {}
func (w *batchWriter) Hijack()                     {}

// udpWriter answers one question on its own, from the goroutine that waited for it.
type udpWriter struct {
	pc     *net.UDPConn
	remote net.Addr
}

func (w *udpWriter) LocalAddr() net.Addr  { return w.pc.LocalAddr() }
func (w *udpWriter) RemoteAddr() net.Addr { return w.remote }
func (w *udpWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = w.pc.WriteTo(b, w.remote)
	return err
}
func (w *udpWriter) Write(b []byte) (int, error) { return w.pc.WriteTo(b, w.remote) }
func (w *udpWriter) Close() error                { return nil }
func (w *udpWriter) TsigStatus() error           { return nil }
func (w *udpWriter) TsigTimersOnly(bool)         {}
func (w *udpWriter) Hijack()                     {}
