//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkLiveCPU is the live capture's cost: 200 concurrent streams at 50 packets/s (100
// two-way channels) through a veth in a network namespace, captured by the real agent for 60 s
// (TDQ_LIVE_CPU_SECONDS overrides), its CPU time read from /proc. It reports the share of one
// core. Run it with: go test ./cmd/tdq-agent -run '^$' -bench LiveCPU -benchtime 1x
func BenchmarkLiveCPU(b *testing.B) {
	seconds := 60
	if v, err := strconv.Atoi(os.Getenv("TDQ_LIVE_CPU_SECONDS")); err == nil && v > 0 {
		seconds = v
	}
	for i := 0; i < b.N; i++ {
		b.ReportMetric(liveCPU(b, time.Duration(seconds)*time.Second), "%core")
	}
}

func liveCPU(b *testing.B, span time.Duration) float64 {
	n := newNetnsPair(b)
	dir := b.TempDir()
	// The tests' binary has the race detector, which costs several times the CPU: measure a
	// plain build.
	plain := filepath.Join(dir, "tdq-agent")
	if out, err := exec.Command("go", "build", "-o", plain, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "agent.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`capture: {interfaces: [%s]}
uploader: {spool_dir: spool, sink: outbox, outbox_dir: outbox}
log: {level: info, format: json}
`, n.devIf)), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	agent := exec.CommandContext(ctx, "ip", "netns", "exec", n.dev, plain, "run", "--config", cfg)
	logs, _ := agent.StderrPipe()
	if err := agent.Start(); err != nil {
		b.Fatal(err)
	}
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(logs)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "capture started") {
				close(started)
				break
			}
		}
		for sc.Scan() {
		}
	}()
	<-started

	const streams = 200
	dev := make([]*net.UDPConn, streams/2)
	far := make([]*net.UDPConn, streams/2)
	for k := range dev {
		dev[k] = udpIn(b, n.dev, fmt.Sprintf("10.77.0.10:%d", 20000+2*k))
		far[k] = udpIn(b, n.far, fmt.Sprintf("10.77.0.1:%d", 30000+2*k))
	}
	cpu0 := procCPU(b, agent.Process.Pid)
	start := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; time.Since(start) < span; i++ {
		<-tick.C
		for k := range dev {
			dev[k].WriteToUDP(rtpPacket(uint16(i), uint32(i*160), uint32(0x1000+k)), mustUDP(fmt.Sprintf("10.77.0.1:%d", 30000+2*k)))
			far[k].WriteToUDP(rtpPacket(uint16(i), uint32(i*160), uint32(0x2000+k)), mustUDP(fmt.Sprintf("10.77.0.10:%d", 20000+2*k)))
		}
	}
	used := procCPU(b, agent.Process.Pid) - cpu0
	wall := time.Since(start)
	agent.Process.Signal(syscall.SIGTERM)
	agent.Wait()
	share := 100 * used.Seconds() / wall.Seconds()
	b.Logf("agent CPU %s over %s with %d streams at 50 packets/s: %.2f %% of one core", used, wall.Round(time.Second), streams, share)
	return share
}

// procCPU is a process's user plus system time, from /proc/PID/stat (fields 14 and 15, in clock
// ticks of 1/100 s on Linux).
func procCPU(tb testing.TB, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
