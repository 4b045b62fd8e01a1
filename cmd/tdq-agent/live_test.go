//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netnsPair is two network namespaces joined by a veth pair: the device (10.77.0.10) and the far
// end (10.77.0.1). Traffic stays inside them; Close deletes both, which removes the veth too.
type netnsPair struct {
	dev, far, devIf string
}

func newNetnsPair(t testing.TB) *netnsPair {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces and open AF_PACKET sockets (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (Debian package iproute2) to create network namespaces")
	}
	id := os.Getpid() % 100000
	n := &netnsPair{dev: fmt.Sprintf("tdqdev%d", id), far: fmt.Sprintf("tdqfar%d", id), devIf: fmt.Sprintf("tdqd%d", id)}
	farIf := fmt.Sprintf("tdqf%d", id)
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", n.dev).Run()
		exec.Command("ip", "netns", "del", n.far).Run()
	})
	for _, c := range [][]string{
		{"netns", "add", n.dev}, {"netns", "add", n.far},
		{"link", "add", n.devIf, "type", "veth", "peer", "name", farIf},
		{"link", "set", n.devIf, "netns", n.dev}, {"link", "set", farIf, "netns", n.far},
		{"-n", n.dev, "addr", "add", "10.77.0.10/24", "dev", n.devIf},
		{"-n", n.far, "addr", "add", "10.77.0.1/24", "dev", farIf},
		{"-n", n.dev, "link", "set", n.devIf, "up"}, {"-n", n.far, "link", "set", farIf, "up"},
		{"-n", n.dev, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	return n
}

// inNetns runs fn on an OS thread switched into the named namespace; sockets fn opens stay in
// that namespace when the thread switches back.
func inNetns(name string, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked if the switch back fails: the thread then dies with the goroutine
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			done <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/var/run/netns/" + name)
		if err != nil {
			done <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("switch back from %s: %w", name, err)
			return
		}
		runtime.UnlockOSThread()
		done <- ferr
	}()
	return <-done
}

func udpIn(t testing.TB, ns, addr string) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	err := inNetns(ns, func() (err error) {
		c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(mustAddrPort(addr)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func rtpPacket(seq uint16, ts, ssrc uint32) []byte {
	b := make([]byte, 12+160)
	b[0], b[1] = 0x80, 8 // V=2, PCMA
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	return b
}

// senderReport is an RTCP SR with no report blocks; ntp's middle 32 bits are what an RR echoes.
func senderReport(ssrc uint32, ntp uint64, rtpTS, packets uint32) []byte {
	b := make([]byte, 28)
	b[0], b[1], b[3] = 0x80, 200, 6
	binary.BigEndian.PutUint32(b[4:], ssrc)
	binary.BigEndian.PutUint64(b[8:], ntp)
	binary.BigEndian.PutUint32(b[16:], rtpTS)
	binary.BigEndian.PutUint32(b[20:], packets)
	return b
}

// receiverReport is an RTCP RR with one block about ssrc.
func receiverReport(from, about uint32, fraction uint8, lsr, dlsr uint32) []byte {
	b := make([]byte, 32)
	b[0], b[1], b[3] = 0x81, 201, 7
	binary.BigEndian.PutUint32(b[4:], from)
	binary.BigEndian.PutUint32(b[8:], about)
	b[12] = fraction
	binary.BigEndian.PutUint32(b[24:], lsr)
	binary.BigEndian.PutUint32(b[28:], dlsr)
	return b
}

// TestLiveCapture runs the real binary as the device's agent inside a network namespace,
// capturing its veth through AF_PACKET, while the test plays both ends of a call: the far end
// sends 250 packets of which it leaves out 10 (seeded), the device sends 250 and an SR every
// second that the far end answers with an RR after a known delay. The record Graph receives
// must say exactly that, and a call in progress at SIGTERM must be kept, with exit 0.
func TestLiveCapture(t *testing.T) {
	n := newNetnsPair(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "agent.yaml")
	// The records go to the outbox sink: the Graph client is covered by the end-to-end tests,
	// and a Graph server reachable from inside the namespace would add nothing here.
	os.WriteFile(cfg, []byte(fmt.Sprintf(`device: {name: room-live, description: live test}
capture: {interfaces: [%s]}
call: {idle_timeout: 2s}
uploader: {spool_dir: spool, sink: outbox, outbox_dir: outbox}
log: {level: debug, format: json}
`, n.devIf)), 0o600)
	outbox := func() []string {
		m, _ := filepath.Glob(filepath.Join(dir, "outbox", "*.json"))
		return m
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	agent := exec.CommandContext(ctx, "ip", "netns", "exec", n.dev, agentBinary, "run", "--config", cfg)
	logs, _ := agent.StderrPipe()
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	var logText strings.Builder
	go func() {
		sc := bufio.NewScanner(logs)
		once := false
		for sc.Scan() {
			logText.WriteString(sc.Text() + "\n")
			if !once && strings.Contains(sc.Text(), "capture started") {
				once = true
				close(started)
			}
		}
	}()
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatalf("the agent did not start capturing:\n%s", logText.String())
	}

	devRTP, devRTCP := udpIn(t, n.dev, "10.77.0.10:50000"), udpIn(t, n.dev, "10.77.0.10:50001")
	farRTP, farRTCP := udpIn(t, n.far, "10.77.0.1:40100"), udpIn(t, n.far, "10.77.0.1:40101")
	toFar, toFarRTCP := mustUDP("10.77.0.1:40100"), mustUDP("10.77.0.1:40101")
	toDev, toDevRTCP := mustUDP("10.77.0.10:50000"), mustUDP("10.77.0.10:50001")
	_ = devRTCP

	const devSSRC, farSSRC = 0xdeadbeef, 0xfeedf00d
	rng := rand.New(rand.NewPCG(7, 7))
	dropped := map[int]bool{}
	for len(dropped) < 10 {
		dropped[10+rng.IntN(230)] = true // never the first or last packets: they bound the expected count
	}
	call := func(packets int, withRTCP bool) {
		for i := 0; i < packets; i++ {
			devRTP.WriteToUDP(rtpPacket(uint16(1000+i), uint32(i*160), devSSRC), toFar)
			if !dropped[i] || !withRTCP {
				farRTP.WriteToUDP(rtpPacket(uint16(7000+i), uint32(i*160), farSSRC), toDev)
			}
			if withRTCP && i%50 == 25 {
				// SR from the device; the far end answers 5 ms later saying it held it 5 ms
				// (DLSR 5 ms = 327.68 units of 1/65536 s, rounded to 328): RTT ≈ 0 + veth.
				mid := uint32(0x10000 * (i + 1))
				devRTCP.WriteToUDP(senderReport(devSSRC, uint64(mid)<<16, uint32(i*160), uint32(i)), toFarRTCP)
				time.Sleep(5 * time.Millisecond)
				farRTCP.WriteToUDP(receiverReport(farSSRC, devSSRC, 0, mid, 328), toDevRTCP)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	call(250, true)

	deadline := time.Now().Add(15 * time.Second)
	for len(outbox()) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if len(outbox()) != 1 {
		t.Fatalf("%d records delivered after the call went idle, want 1:\n%s", len(outbox()), logText.String())
	}
	body, err := os.ReadFile(outbox()[0])
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Quality struct {
			MediaQualityList []map[string]any `json:"mediaQualityList"`
		} `json:"quality"`
	}
	if err := json.Unmarshal(body, &rec); err != nil || len(rec.Quality.MediaQualityList) != 1 {
		t.Fatalf("record %s: %v", body, err)
	}
	ch := rec.Quality.MediaQualityList[0]
	t.Logf("record channel: %v", ch)
	want := map[string]any{
		"localIPAddress": "10.77.0.10", "localPort": 50000.0, "remoteIPAddress": "10.77.0.1", "remotePort": 40100.0,
		"inboundPackets": 240.0, "outboundPackets": 250.0,
		"averageInboundPacketLossRateInPercentage":  4.0, // 10 of 250 expected
		"averageOutboundPacketLossRateInPercentage": 0.0, "maximumOutboundPacketLossRateInPercentage": 0.0,
	}
	for k, v := range want {
		if ch[k] != v {
			t.Errorf("%s = %v, want %v", k, ch[k], v)
		}
	}
	rtt, _ := ch["averageOutboundRoundTripDelay"].(string)
	if !strings.HasPrefix(rtt, "PT0.00") {
		t.Errorf("round trip %q, want under 10 ms on a veth", rtt)
	}
	if speed, err := exec.Command("ip", "netns", "exec", n.dev, "cat", "/sys/class/net/"+n.devIf+"/speed").Output(); err == nil {
		var mbps float64
		fmt.Sscan(string(speed), &mbps)
		if got := ch["networkLinkSpeedInBytes"]; mbps > 0 && got != mbps*1e6/8 {
			t.Errorf("networkLinkSpeedInBytes = %v, want %v (%v Mb/s)", got, mbps*1e6/8, mbps)
		}
	}

	// A second call is in progress when the service is stopped: it is finished and kept.
	call(50, false)
	agent.Process.Signal(syscall.SIGTERM)
	if err := agent.Wait(); err != nil {
		t.Fatalf("agent exit on SIGTERM: %v\n%s", err, logText.String())
	}
	pending, _ := filepath.Glob(filepath.Join(dir, "spool", "pending", "*"))
	if len(pending)+len(outbox()) != 2 {
		t.Errorf("the call in progress at SIGTERM: %d spooled, %d delivered in all; want it kept once\n%s", len(pending), len(outbox()), logText.String())
	}
}

func mustUDP(s string) *net.UDPAddr { return net.UDPAddrFromAddrPort(mustAddrPort(s)) }

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
