//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The call's three namespaces: the device, the relay (the remote the device sees, like a media
// relay), and the far end behind it.
const (
	devIP      = "10.77.0.10"
	relayDevIP = "10.77.0.1"
	relayFarIP = "10.78.0.1"
	farIP      = "10.78.0.20"
)

type topology struct {
	dev, relay, far, devIf string
}

func newTopology(t *testing.T) *topology {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces and open AF_PACKET sockets (CI runs as root)")
	}
	for _, tool := range []string{"ip", "gst-launch-1.0", "tcpdump", "tshark"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: .ci/run installs iproute2, gstreamer1.0-tools, gstreamer1.0-plugins-good/-base, tcpdump and tshark", tool)
		}
	}
	id := os.Getpid() % 100000
	tp := &topology{dev: fmt.Sprintf("tdqcd%d", id), relay: fmt.Sprintf("tdqcr%d", id), far: fmt.Sprintf("tdqcf%d", id), devIf: fmt.Sprintf("tdqcd%d", id)}
	t.Cleanup(func() {
		for _, ns := range []string{tp.dev, tp.relay, tp.far} {
			exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	a, b, c := fmt.Sprintf("tdqra%d", id), fmt.Sprintf("tdqrb%d", id), fmt.Sprintf("tdqcx%d", id)
	for _, cmd := range [][]string{
		{"netns", "add", tp.dev}, {"netns", "add", tp.relay}, {"netns", "add", tp.far},
		{"link", "add", tp.devIf, "type", "veth", "peer", "name", a},
		{"link", "add", b, "type", "veth", "peer", "name", c},
		{"link", "set", tp.devIf, "netns", tp.dev}, {"link", "set", a, "netns", tp.relay},
		{"link", "set", b, "netns", tp.relay}, {"link", "set", c, "netns", tp.far},
		{"-n", tp.dev, "addr", "add", devIP + "/24", "dev", tp.devIf},
		{"-n", tp.relay, "addr", "add", relayDevIP + "/24", "dev", a},
		{"-n", tp.relay, "addr", "add", relayFarIP + "/24", "dev", b},
		{"-n", tp.far, "addr", "add", farIP + "/24", "dev", c},
		{"-n", tp.dev, "link", "set", tp.devIf, "up"}, {"-n", tp.relay, "link", "set", a, "up"},
		{"-n", tp.relay, "link", "set", b, "up"}, {"-n", tp.far, "link", "set", c, "up"},
		{"-n", tp.dev, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", cmd...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(cmd, " "), err, out)
		}
	}
	return tp
}

// leg is one direction of the relay: packets from one side, impaired, out to the other.
type leg struct {
	delay, jitter time.Duration // jitter on RTP only
	loss          float64       // RTP only: RTCP goes through, so the round trip is always sampled
	rng           *rand.Rand
	mu            sync.Mutex
	forwarded     int
	dropped       int
}

// relay is the user-space impairment relay (the kernel here has no netem): for each session it
// owns a socket on the device's side and one on the far side and forwards between them with a
// seeded one-way delay, jitter and loss per direction.
type relay struct {
	toDev, toFar *leg
	wg           sync.WaitGroup
	conns        []*net.UDPConn

	// The relay's own view of the device's round trips: when each of the device's SRs reached
	// it, and when it handed the device the RR answering it. RR hand-over − SR arrival − DLSR
	// is the device's round trip but for the veth's microseconds: the relay's delays as really
	// applied, and what the far peer adds (its DLSR is stamped before it sends).
	mu     sync.Mutex
	srSeen map[uint32]time.Time // by NTP middle 32 bits
	rtts   []time.Duration
}

// observeRTCP notes the device's SRs as they arrive and the RRs answering them as they leave.
func (r *relay) observeRTCP(pkt []byte, toFar bool, at time.Time) {
	for len(pkt) >= 8 {
		n := (int(pkt[2])<<8 | int(pkt[3]) + 1) * 4
		if n > len(pkt) {
			return
		}
		sub := pkt[:n]
		pkt = pkt[n:]
		r.mu.Lock()
		switch {
		case toFar && sub[1] == 200 && len(sub) >= 28:
			mid := uint32(sub[10])<<24 | uint32(sub[11])<<16 | uint32(sub[12])<<8 | uint32(sub[13])
			r.srSeen[mid] = at
		case !toFar && (sub[1] == 200 || sub[1] == 201):
			off := 8
			if sub[1] == 200 {
				off = 28
			}
			for k := 0; k < int(sub[0]&0x1f) && off+24 <= len(sub); k, off = k+1, off+24 {
				b := sub[off:]
				lsr := uint32(b[16])<<24 | uint32(b[17])<<16 | uint32(b[18])<<8 | uint32(b[19])
				dlsr := uint32(b[20])<<24 | uint32(b[21])<<16 | uint32(b[22])<<8 | uint32(b[23])
				if seen, ok := r.srSeen[lsr]; ok && lsr != 0 {
					r.rtts = append(r.rtts, at.Sub(seen)-time.Duration(dlsr)*time.Second/65536)
				}
			}
		}
		r.mu.Unlock()
	}
}

func (r *relay) pipe(t *testing.T, ns string, devPort, farPort, devPeer, farPeer int, isRTP bool) {
	in := udpIn(t, ns, fmt.Sprintf("%s:%d", relayDevIP, devPort))
	out := udpIn(t, ns, fmt.Sprintf("%s:%d", relayFarIP, farPort))
	r.conns = append(r.conns, in, out)
	forward := func(from, to *net.UDPConn, dst *net.UDPAddr, l *leg) {
		defer r.wg.Done()
		buf := make([]byte, 2048)
		for {
			n, _, err := from.ReadFromUDP(buf)
			if err != nil {
				return
			}
			pkt := append([]byte(nil), buf[:n]...)
			l.mu.Lock()
			drop := isRTP && l.rng.Float64() < l.loss
			d := l.delay
			if isRTP {
				// Jitter on the media only: RTCP keeps the base delay, so every round-trip
				// sample is twice it plus the peers' turnaround, which the test bounds.
				d += time.Duration((l.rng.Float64()*2 - 1) * float64(l.jitter))
			}
			if drop {
				l.dropped++
			} else if isRTP {
				l.forwarded++
			}
			l.mu.Unlock()
			if drop {
				continue
			}
			toFar := l == r.toFar
			if !isRTP && toFar {
				r.observeRTCP(pkt, true, time.Now())
			}
			time.AfterFunc(d, func() {
				to.WriteToUDP(pkt, dst)
				if !isRTP && !toFar {
					r.observeRTCP(pkt, false, time.Now())
				}
			})
		}
	}
	r.wg.Add(2)
	go forward(in, out, mustUDP(fmt.Sprintf("%s:%d", farIP, farPeer)), r.toFar)
	go forward(out, in, mustUDP(fmt.Sprintf("%s:%d", devIP, devPeer)), r.toDev)
}

// close stops forwarding; a second call does nothing more.
func (r *relay) close() {
	for _, c := range r.conns {
		c.Close()
	}
	r.wg.Wait()
}

// gstPeer is a real RTP stack: GStreamer's rtpbin with a PCMA session (0) and an Opus session
// (1, dynamic payload type 111, 48 kHz), each sending a tone and receiving the other side's in
// the same RTP session, so that its RTCP carries report blocks with LSR/DLSR. udpsink binds the
// port udpsrc receives on (symmetric RTP); udpsrc binds the specific address so the kernel hands
// it the incoming packets rather than to udpsink's wildcard socket.
func gstPeer(ctx context.Context, ns, local, remote string, remotePCMA, remoteOpus int) *exec.Cmd {
	session := func(n int, rport, lport int, enc, caps string) string {
		return fmt.Sprintf(`%s ! rb.send_rtp_sink_%d `+
			`rb.send_rtp_src_%d ! udpsink host=%s port=%d bind-port=%d sync=false async=false `+
			`rb.send_rtcp_src_%d ! udpsink host=%s port=%d bind-port=%d sync=false async=false `+
			`udpsrc address=%s port=%d caps="%s" ! rb.recv_rtp_sink_%d `+
			`udpsrc address=%s port=%d ! rb.recv_rtcp_sink_%d `,
			enc, n, n, remote, rport, lport, n, remote, rport+1, lport+1, local, lport, caps, n, local, lport+1, n)
	}
	pipeline := "rtpbin name=rb " +
		session(0, remotePCMA, 50000,
			"audiotestsrc is-live=true samplesperbuffer=160 freq=440 ! audio/x-raw,rate=8000,channels=1 ! audioconvert ! alawenc ! rtppcmapay min-ptime=20000000 max-ptime=20000000",
			"application/x-rtp,media=audio,clock-rate=8000,encoding-name=PCMA,payload=8") +
		session(1, remoteOpus, 50100,
			"audiotestsrc is-live=true samplesperbuffer=960 freq=660 ! audio/x-raw,rate=48000,channels=1 ! audioconvert ! opusenc frame-size=20 ! rtpopuspay pt=111",
			"application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=111") +
		"rb. ! fakesink async=false rb. ! fakesink async=false"
	args := append([]string{"netns", "exec", ns, "gst-launch-1.0", "-q"}, strings.Fields(pipeline)...)
	// strings.Fields splits the quoted caps at spaces it has none of; the quotes must go.
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, `"`, "")
	}
	return exec.CommandContext(ctx, "ip", args...)
}

// TestRealCall: GStreamer peers on either side of the impairment relay make a two-way call
// (PCMA and Opus), the agent captures it live on the device's interface, and tcpdump records
// the same interface for tshark. The record must say what the relay did and what the peers
// reported: inbound loss = the relay's drops toward the device (within one packet), outbound loss
// = the far peer's RR fractions, RTT within 2 ms of twice the relay delay, inbound jitter
// consistent with tshark on the simultaneous capture.
func TestRealCall(t *testing.T) {
	tp := newTopology(t)
	const oneWay = 20 * time.Millisecond
	r := &relay{
		srSeen: map[uint32]time.Time{},
		toDev:  &leg{delay: oneWay, jitter: 2 * time.Millisecond, loss: 0.03, rng: rand.New(rand.NewPCG(11, 1))},
		toFar:  &leg{delay: oneWay, jitter: 1 * time.Millisecond, loss: 0.02, rng: rand.New(rand.NewPCG(11, 2))},
	}
	r.pipe(t, tp.relay, 40100, 40200, 50000, 50000, true)
	r.pipe(t, tp.relay, 40101, 40201, 50001, 50001, false)
	r.pipe(t, tp.relay, 40110, 40210, 50100, 50100, true)
	r.pipe(t, tp.relay, 40111, 40211, 50101, 50101, false)
	defer r.close()

	// The local Graph and token authority listen on the device namespace's loopback, where the
	// agent runs.
	g := newFakeGraphOn(t, func() (net.Listener, net.Listener) {
		var gl, il net.Listener
		err := inNetns(tp.dev, func() (err error) {
			if gl, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
				return err
			}
			il, err = net.Listen("tcp", "127.0.0.1:0")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return gl, il
	})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "agent.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`device: {name: room-call, description: call test}
capture: {interfaces: [%s]}
call: {idle_timeout: 3s}
uploader:
  spool_dir: spool
  graph:
    base_url: %s
    authority_url: %s
    tenant_id: tenant-1
    client_id: client-1
    client_secret_env: TDQ_TEST_SECRET
log: {level: info, format: json}
`, tp.devIf, g.graph.URL, g.issuer.URL)), 0o600)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pcap := filepath.Join(dir, "device.pcap")
	dump := exec.CommandContext(ctx, "ip", "netns", "exec", tp.dev, "tcpdump", "-i", tp.devIf, "-U", "-n", "-s", "0", "-w", pcap, "udp")
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	agent := exec.CommandContext(ctx, "ip", "netns", "exec", tp.dev, agentBinary, "run", "--config", cfg)
	agent.Env = append(os.Environ(), "TDQ_TEST_SECRET="+testSecret, "SSL_CERT_FILE="+testCAFile)
	logs, _ := agent.StderrPipe()
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	var logMu sync.Mutex
	var logText strings.Builder
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(logs)
		for sc.Scan() {
			logMu.Lock()
			logText.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if strings.Contains(sc.Text(), "capture started") {
				select {
				case <-started:
				default:
					close(started)
				}
			}
		}
	}()
	logsSoFar := func() string { logMu.Lock(); defer logMu.Unlock(); return logText.String() }
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatalf("the agent did not start capturing:\n%s", logsSoFar())
	}
	time.Sleep(500 * time.Millisecond) // tcpdump's socket is open by now too

	callCtx, hangUp := context.WithTimeout(ctx, 16*time.Second)
	defer hangUp()
	devPeer := gstPeer(callCtx, tp.dev, devIP, relayDevIP, 40100, 40110)
	farPeer := gstPeer(callCtx, tp.far, farIP, relayFarIP, 40200, 40210)
	var devErr, farErr strings.Builder
	devPeer.Stderr, farPeer.Stderr = &devErr, &farErr
	if err := farPeer.Start(); err != nil {
		t.Fatal(err)
	}
	if err := devPeer.Start(); err != nil {
		t.Fatal(err)
	}
	devPeer.Wait()
	farPeer.Wait()

	deadline := time.Now().Add(20 * time.Second)
	for len(g.received()) == 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	agent.Process.Signal(syscall.SIGTERM)
	agent.Wait()
	dump.Process.Signal(syscall.SIGINT)
	dump.Wait()
	posts := g.received()
	if len(posts) != 1 {
		t.Fatalf("Graph received %d records, want 1 call\ndevice peer: %s\nfar peer: %s\nagent:\n%s", len(posts), devErr.String(), farErr.String(), logsSoFar())
	}
	if posts[0].auth != "Bearer tok-1" || posts[0].path != "/v1.0/communications/calls/logTeleconferenceDeviceQuality" {
		t.Errorf("posted to %s with %q", posts[0].path, posts[0].auth)
	}
	body := posts[0].body
	var rec struct {
		Quality struct {
			MediaQualityList []map[string]any `json:"mediaQualityList"`
		} `json:"quality"`
	}
	if err := json.Unmarshal(body, &rec); err != nil {
		t.Fatal(err)
	}
	channels := map[float64]map[string]any{}
	for _, ch := range rec.Quality.MediaQualityList {
		channels[ch["localPort"].(float64)] = ch
	}
	pcma, opus := channels[50000], channels[50100]
	if pcma == nil || opus == nil {
		t.Fatalf("want the PCMA (50000) and Opus (50100) channels, got %s", body)
	}
	t.Logf("PCMA channel: %v", pcma)
	t.Logf("Opus channel: %v", opus)
	r.close() // its goroutines have ended: the counters below are final and safe to read
	t.Logf("relay: toward the device %d forwarded, %d dropped; toward the far end %d forwarded, %d dropped",
		r.toDev.forwarded, r.toDev.dropped, r.toFar.forwarded, r.toFar.dropped)

	// Inbound loss: lost = received·pct/(100−pct), against the relay's drops toward the device,
	// over both sessions (the relay's counters are per direction).
	var lost, received float64
	for _, ch := range []map[string]any{pcma, opus} {
		in := ch["inboundPackets"].(float64)
		pct := ch["averageInboundPacketLossRateInPercentage"].(float64)
		received += in
		lost += in * pct / (100 - pct)
	}
	if math.Abs(lost-float64(r.toDev.dropped)) > 2 || received != float64(r.toDev.forwarded) {
		t.Errorf("inbound: %.1f lost of %.0f received; the relay dropped %d and forwarded %d (within one packet a session)",
			lost, received, r.toDev.dropped, r.toDev.forwarded)
	}

	// RTT: within 2 ms of twice the relay's delay, and within 1 ms of the round trips the
	// relay itself saw (its delays as really applied on two busy cores, plus what the far peer
	// adds: the lab truth files' "expected"), over both sessions' samples.
	r.mu.Lock()
	var sum time.Duration
	for _, d := range r.rtts {
		sum += d
	}
	samples := len(r.rtts)
	r.mu.Unlock()
	if samples == 0 {
		t.Fatal("the relay saw no RR answering an SR")
	}
	seen := sum.Seconds() / float64(samples)
	t.Logf("relay-side round trip %.4f s over %d samples; configured 2 × %s", seen, samples, oneWay)
	var rttSum, rttN float64
	for name, ch := range map[string]map[string]any{"PCMA": pcma, "Opus": opus} {
		rtt := isoToSeconds(t, ch["averageOutboundRoundTripDelay"])
		if math.Abs(rtt-2*oneWay.Seconds()) > 0.002 && math.Abs(rtt-seen) > 0.001 {
			t.Errorf("%s round trip %.4f s: not within 2 ms of %.3f s, nor within 1 ms of the relay's %.4f s", name, rtt, 2*oneWay.Seconds(), seen)
		}
		rttSum += rtt
		rttN++
	}
	if math.Abs(rttSum/rttN-seen) > 0.001 {
		t.Errorf("mean round trip %.4f s over both channels, the relay saw %.4f s", rttSum/rttN, seen)
	}

	// Outbound loss and inbound jitter, against tshark on tcpdump's capture of the same link.
	fractions := tsharkFractions(t, pcap)
	if len(fractions) == 0 {
		t.Fatal("tshark found no receiver report about the device's PCMA stream")
	}
	var fracSum, maxF float64
	for _, f := range fractions {
		fracSum += f
		maxF = math.Max(maxF, f)
	}
	if got := pcma["averageOutboundPacketLossRateInPercentage"].(float64); math.Abs(got-fracSum/float64(len(fractions))) > 0.01 {
		t.Errorf("outbound loss %.4f %%, the far peer's RRs say %.4f %% (mean of %v)", got, fracSum/float64(len(fractions)), fractions)
	}
	if got := pcma["maximumOutboundPacketLossRateInPercentage"].(float64); math.Abs(got-maxF) > 0.01 {
		t.Errorf("maximum outbound loss %.4f %%, the far peer's RRs say %.4f %%", got, maxF)
	}
	meanJ, maxJ := tsharkJitter(t, pcap, relayDevIP, 40100)
	gotMean, gotMax := isoToSeconds(t, pcma["averageInboundJitter"])*1e3, isoToSeconds(t, pcma["maximumInboundJitter"])*1e3
	if math.Abs(gotMean-meanJ) > math.Max(0.05*meanJ, 0.02) || math.Abs(gotMax-maxJ) > math.Max(0.05*maxJ, 0.02) {
		t.Errorf("inbound jitter %.3f/%.3f ms, tshark on tcpdump's capture %.3f/%.3f ms", gotMean, gotMax, meanJ, maxJ)
	}
	if !strings.Contains(logsSoFar(), `"clock_source":"inferred"`) {
		t.Errorf("the Opus channel's clock (dynamic type 111, no config) was not inferred:\n%s", logsSoFar())
	}
}

func isoToSeconds(t *testing.T, v any) float64 {
	t.Helper()
	s, _ := v.(string)
	f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(s, "PT"), "S"), 64)
	if err != nil {
		t.Fatalf("not a seconds duration: %v", v)
	}
	return f
}

// tsharkFractions returns the fraction lost (in %) of each RR block the far end sent about the
// device's PCMA stream, as tshark decodes them from the capture.
func tsharkFractions(t *testing.T, pcap string) []float64 {
	t.Helper()
	out, err := exec.Command("tshark", "-r", pcap, "-n", "-d", "udp.port==40101,rtcp", "-Y", "rtcp && udp.srcport==40101",
		"-T", "fields", "-E", "occurrence=f", "-e", "rtcp.ssrc.fraction").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var fr []float64
	for _, line := range strings.Fields(string(out)) {
		v, err := strconv.ParseFloat(line, 64)
		if err == nil {
			fr = append(fr, v*100/256)
		}
	}
	return fr
}

// tsharkJitter returns tshark's mean and max jitter (ms) of the stream from src:port.
func tsharkJitter(t *testing.T, pcap, src string, port int) (float64, float64) {
	t.Helper()
	out, err := exec.Command("tshark", "-r", pcap, "-n", "-o", "rtp.heuristic_rtp:TRUE", "-q", "-z", "rtp,streams").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 16 && f[2] == src && f[3] == strconv.Itoa(port) && strings.Contains(line, "g711A") {
			mean, _ := strconv.ParseFloat(f[len(f)-2], 64)
			max, _ := strconv.ParseFloat(f[len(f)-1], 64)
			if f[len(f)-1] == "X" {
				mean, _ = strconv.ParseFloat(f[len(f)-3], 64)
				max, _ = strconv.ParseFloat(f[len(f)-2], 64)
			}
			return mean, max
		}
	}
	t.Fatalf("tshark reports no PCMA stream from %s:%d:\n%s", src, port, out)
	return 0, 0
}
