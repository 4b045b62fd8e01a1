package capture

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// rec is one frame to write to a test capture.
type rec struct {
	at    time.Time
	iface int // pcapng interface index
	data  []byte
}

// t0 is 2023-11-14T22:13:20.123456789Z: 1700000000 s and 123456789 ns.
var t0 = time.Unix(1700000000, 123456789)

// writePcap writes a classic pcap file with gopacket's writer, microsecond or nanosecond.
func writePcap(t *testing.T, name string, nanos bool, link layers.LinkType, recs []rec) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if nanos {
		w = pcapgo.NewWriterNanos(&buf)
	}
	if err := w.WriteFileHeader(65535, link); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		ci := gopacket.CaptureInfo{Timestamp: r.at, CaptureLength: len(r.data), Length: len(r.data)}
		if err := w.WritePacket(ci, r.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writePcapng writes a pcapng file whose interfaces have the given link types, in order.
func writePcapng(t *testing.T, name string, links []layers.LinkType, recs []rec) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{Name: "if0", LinkType: links[0]}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range links[1:] {
		id, err := w.AddInterface(pcapgo.NgInterface{Name: "if" + string(rune('1'+i)), LinkType: l})
		if err != nil || id != i+1 {
			t.Fatalf("AddInterface = %d, %v", id, err)
		}
	}
	for _, r := range recs {
		ci := gopacket.CaptureInfo{Timestamp: r.at, CaptureLength: len(r.data), Length: len(r.data), InterfaceIndex: r.iface}
		if err := w.WritePacket(ci, r.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// got is what a test keeps of each packet a source returned.
type got struct {
	time     int64
	src, dst string
	kind     Kind
	payload  string
	link     LinkType
}

// readAll drains a source, keeping copies (the payload is only valid until the next read).
func readAll(t *testing.T, path string) ([]got, Stats, error) {
	t.Helper()
	s, err := OpenFile(path)
	if err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	defer s.Close()
	var out []got
	var p Packet
	for {
		err := s.Next(&p)
		if err != nil {
			return out, s.Stats(), err
		}
		link, _ := s.Frame()
		out = append(out, got{p.Time, p.Src.String(), p.Dst.String(), p.Kind, string(p.Payload), link})
	}
}

// rtcpRR is an 8-byte RTCP receiver report with no blocks: header (V=2, RC=0, PT 201,
// length 1) and the sender's SSRC.
var rtcpRR = []byte{0x80, 0xc9, 0x00, 0x01, 0x00, 0x00, 0x00, 0x2a}

func TestFilePcap(t *testing.T) {
	icmp := cat(eth(0x0800), ipv4(1, 8, 0), []byte{8, 0, 0xf7, 0xff, 0, 0, 0, 0})
	arp := cat(eth(0x0806), make([]byte, 28))
	frag := cat(eth(0x0800), ipv4(17, 16, 0x00b9), rtpPayload)
	cut := cat(eth(0x0800), ipv4(17, 24, 0))[:14+10] // IPv4 header cut at 10 bytes
	recs := []rec{
		{at: t0, data: ethIPv4UDP},
		{at: t0.Add(time.Millisecond), data: icmp},
		{at: t0.Add(2 * time.Millisecond), data: arp},
		{at: t0.Add(3 * time.Millisecond), data: frag},
		{at: t0.Add(4 * time.Millisecond), data: cut},
		{at: t0.Add(20 * time.Millisecond), data: cat(eth(0x0800), udp4(rtcpRR))},
	}
	wantStats := Stats{Frames: 6, UDP: 2, NotUDP: 2, Fragments: 1, Malformed: 1}

	for _, tc := range []struct {
		name  string
		nanos bool
		// t0's 123456789 ns survive as 123456000 at microsecond resolution.
		want0, want1 int64
	}{
		{"microseconds", false, 1700000000_123456000, 1700000000_143456000},
		{"nanoseconds", true, 1700000000_123456789, 1700000000_143456789},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writePcap(t, "a.pcap", tc.nanos, layers.LinkTypeEthernet, recs)
			pkts, st, err := readAll(t, path)
			if err != io.EOF {
				t.Fatalf("end: %v, want io.EOF", err)
			}
			want := []got{
				{tc.want0, "192.0.2.10:40000", "198.51.100.20:5004", KindRTP, string(rtpPayload), LinkEthernet},
				{tc.want1, "192.0.2.10:40000", "198.51.100.20:5004", KindRTCP, string(rtcpRR), LinkEthernet},
			}
			if len(pkts) != len(want) {
				t.Fatalf("got %d packets, want %d: %+v", len(pkts), len(want), pkts)
			}
			for i := range want {
				if pkts[i] != want[i] {
					t.Errorf("packet %d = %+v\nwant       %+v", i, pkts[i], want[i])
				}
			}
			if st != wantStats {
				t.Errorf("stats = %+v, want %+v", st, wantStats)
			}
		})
	}
}

// TestFilePcapngMixedLinkTypes writes one Ethernet and one Linux SLL2 interface: each frame
// decodes only with its own interface's link type (an SLL2 frame read as Ethernet would be
// garbage), so both arriving intact shows the per-interface type is honoured.
func TestFilePcapngMixedLinkTypes(t *testing.T) {
	recs := []rec{
		{at: t0, iface: 0, data: ethIPv4UDP},
		{at: t0.Add(time.Second), iface: 1, data: cat(sll2(0x86dd), udp6(rtcpRR))},
		{at: t0.Add(2 * time.Second), iface: 0, data: cat(eth(0x86dd), udp6(rtpPayload))},
	}
	path := writePcapng(t, "mixed.pcapng", []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL2}, recs)
	pkts, st, err := readAll(t, path)
	if err != io.EOF {
		t.Fatalf("end: %v, want io.EOF", err)
	}
	want := []got{
		{1700000000_123456789, "192.0.2.10:40000", "198.51.100.20:5004", KindRTP, string(rtpPayload), LinkEthernet},
		{1700000001_123456789, "[2001:db8::10]:40000", "[2001:db8::20]:5004", KindRTCP, string(rtcpRR), LinkSLL2},
		{1700000002_123456789, "[2001:db8::10]:40000", "[2001:db8::20]:5004", KindRTP, string(rtpPayload), LinkEthernet},
	}
	if len(pkts) != len(want) {
		t.Fatalf("got %d packets, want %d: %+v (stats %+v)", len(pkts), len(want), pkts, st)
	}
	for i := range want {
		if pkts[i] != want[i] {
			t.Errorf("packet %d = %+v\nwant       %+v", i, pkts[i], want[i])
		}
	}
	if want := (Stats{Frames: 3, UDP: 3}); st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
}

// TestFileMagicSniffed reads a pcapng named .pcap and a pcap named .pcapng.
func TestFileMagicSniffed(t *testing.T) {
	ng := writePcapng(t, "really-ng.pcap", []layers.LinkType{layers.LinkTypeEthernet}, []rec{{at: t0, data: ethIPv4UDP}})
	classic := writePcap(t, "really-classic.pcapng", true, layers.LinkTypeRaw, []rec{{at: t0, data: udp4(rtpPayload)}})
	for _, path := range []string{ng, classic} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			pkts, _, err := readAll(t, path)
			if err != io.EOF || len(pkts) != 1 || pkts[0].payload != string(rtpPayload) || pkts[0].time != t0.UnixNano() {
				t.Errorf("got %+v, %v; want the one RTP packet then io.EOF", pkts, err)
			}
		})
	}
}

func TestFileOpenErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pcap")
	text := filepath.Join(dir, "notes.pcap")
	short := filepath.Join(dir, "short.pcap")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(text, []byte("this is a text file, not a capture\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(short, []byte{0xd4, 0xc3}, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		want       []string // substrings of the message
		is         error
	}{
		{"empty", empty, []string{empty, "empty"}, nil},
		{"two bytes", short, []string{short, "shorter than a capture header"}, nil},
		{"text", text, []string{text, "not a pcap or pcapng file"}, nil},
		{"missing", filepath.Join(dir, "nope.pcap"), []string{"open capture"}, fs.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := OpenFile(tc.path)
			if err == nil {
				s.Close()
				t.Fatal("OpenFile succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}

// TestFileTruncated cuts a file inside its last record: the packets before the cut come out,
// then io.EOF, and the cut record is one malformed frame.
func TestFileTruncated(t *testing.T) {
	recs := []rec{
		{at: t0, data: ethIPv4UDP},
		{at: t0.Add(20 * time.Millisecond), data: ethIPv4UDP},
		{at: t0.Add(40 * time.Millisecond), data: ethIPv4UDP},
	}
	full, err := os.ReadFile(writePcap(t, "full.pcap", false, layers.LinkTypeEthernet, recs))
	if err != nil {
		t.Fatal(err)
	}
	// pcap: 24-byte file header, then per record a 16-byte header and the frame.
	lastRec := 24 + 2*(16+len(ethIPv4UDP))
	if len(full) != lastRec+16+len(ethIPv4UDP) {
		t.Fatalf("file is %d bytes, layout assumption wrong", len(full))
	}
	ng, err := os.ReadFile(writePcapng(t, "full.pcapng", []layers.LinkType{layers.LinkTypeEthernet}, recs))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		data      []byte
		packets   int
		malformed uint64
	}{
		{"pcap whole", full, 3, 0},
		{"pcap cut in the frame", full[:len(full)-10], 2, 1},
		{"pcap cut in the record header", full[:lastRec+7], 2, 1},
		{"pcap cut right after the record header", full[:lastRec+16], 2, 1},
		{"pcap cut after the first byte of the frame", full[:lastRec+17], 2, 1},
		{"pcap cut at a record boundary", full[:lastRec], 2, 0},
		{"pcapng whole", ng, 3, 0},
		{"pcapng cut in the last block", ng[:len(ng)-30], 2, 1},
		{"pcapng cut in the last block header", ng[:len(ng)-len(ethIPv4UDP)-30], 2, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cut.pcap")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			pkts, st, err := readAll(t, path)
			if err != io.EOF {
				t.Errorf("end: %v, want io.EOF", err)
			}
			if len(pkts) != tc.packets || st.Truncated != (tc.malformed == 1) || st.Malformed != 0 {
				t.Errorf("%d packets, truncated %v, %d malformed; want %d, truncated %v, 0", len(pkts), st.Truncated, st.Malformed, tc.packets, tc.malformed == 1)
			}
		})
	}
}
