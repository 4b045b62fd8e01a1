package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"
)

// FileSource reads a pcap or pcapng file. The format is sniffed from the magic number, never
// from the file name (real captures often carry the wrong extension).
type FileSource struct {
	name  string
	f     *os.File
	read  func() ([]byte, gopacket.CaptureInfo, error)
	link  func(iface int) LinkType // by pcapng interface index; a value, so CaptureInfo stays on the stack
	stats Stats
	frame []byte   // the last frame read, for Frame
	ltype LinkType // its link type
}

const pcapngMagic = 0x0a0d0d0a

// OpenFile opens a capture file for reading.
func OpenFile(name string) (*FileSource, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open capture: %w", err)
	}
	s, err := newFileSource(name, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func newFileSource(name string, f *os.File) (*FileSource, error) {
	// 1 MiB: reading a capture is mostly copying it; fewer, larger reads cost less per packet.
	br := bufio.NewReaderSize(f, 1<<20)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("read capture header of %s: file is empty or shorter than a capture header", name)
	}
	s := &FileSource{name: name, f: f}
	if binary.LittleEndian.Uint32(magic) == pcapngMagic {
		r, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			return nil, fmt.Errorf("read pcapng header of %s: %w", name, err)
		}
		s.read = r.ZeroCopyReadPacketData
		s.link = func(i int) LinkType {
			// Interfaces may differ in link type within one file; each packet names its own.
			iface, err := r.Interface(i)
			if err != nil {
				return LinkType(0xffff)
			}
			return LinkType(iface.LinkType)
		}
		return s, nil
	}
	r, err := pcapgo.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("read capture header of %s: not a pcap or pcapng file (%v)", name, err)
	}
	lt := LinkType(r.LinkType())
	s.read = r.ZeroCopyReadPacketData
	s.link = func(int) LinkType { return lt }
	return s, nil
}

// Name is the file's path as given.
func (s *FileSource) Name() string { return s.name }

// Next implements Source. A file cut short in its last record (a capture copied while being
// written, or a full disk) ends the source with io.EOF and sets Stats.Truncated: whatever was
// captured before the cut is still good.
func (s *FileSource) Next(p *Packet) error {
	for {
		data, ci, err := s.read()
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				s.stats.Truncated = true
				return io.EOF
			}
			if err == io.EOF {
				if ci.CaptureLength > 0 {
					// A record header and none of its frame: io.ReadFull calls a read of
					// zero bytes io.EOF, but the file was cut inside the record.
					s.stats.Truncated = true
				}
				return io.EOF
			}
			return fmt.Errorf("read %s: the record after frame %d is corrupt, the rest of the file cannot be read (the frames before it were used): %w", s.name, s.stats.Frames, err)
		}
		s.frame, s.ltype = data, s.link(ci.InterfaceIndex)
		if s.stats.decode(s.ltype, data, ci.Timestamp, p) {
			return nil
		}
	}
}

// Frame returns the raw frame behind the packet Next returned last, and its link type; valid
// until the next call to Next.
func (s *FileSource) Frame() (LinkType, []byte) { return s.ltype, s.frame }

// Stats implements Source.
func (s *FileSource) Stats() Stats { return s.stats }

// Close implements Source.
func (s *FileSource) Close() error { return s.f.Close() }
