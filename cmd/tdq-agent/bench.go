package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"go.uber.org/zap"

	"github.com/tdq-agent/tdq-agent/agent"
	"github.com/tdq-agent/tdq-agent/metrics"
)

// benchCmd generates a capture of many concurrent streams and measures analyze on it: packets
// per second of CPU time, allocations per packet, peak memory; with tshark installed, tshark's
// time on the same file.
func benchCmd(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	packets := fs.Int("packets", 1_000_000, "packets in the generated capture")
	streams := fs.Int("streams", 200, "concurrent RTP streams (50 packets/s each)")
	loss := fs.Float64("loss", 0.01, "random packet loss, 0-1")
	jitter := fs.Duration("jitter", 4*time.Millisecond, "arrival jitter (peak to peak)")
	keep := fs.String("keep", "", "write the generated capture here and keep it")
	noTshark := fs.Bool("no-tshark", false, "do not time tshark even if it is installed")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the analysis to this file")
	if rest, err := parseFlags(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return usageError{fmt.Sprintf("bench: unexpected argument %q", rest[0])}
	}
	if *packets < 1000 || *streams < 1 || *loss < 0 || *loss >= 1 {
		return usageError{"bench: want --packets >= 1000, --streams >= 1, 0 <= --loss < 1"}
	}
	path := *keep
	if path == "" {
		dir, err := os.MkdirTemp("", "tdq-bench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "bench.pcap")
	}
	fmt.Fprintf(os.Stderr, "generating %d packets of %d streams (loss %.1f%%, jitter %s) into %s\n", *packets, *streams, *loss*100, *jitter, path)
	n, err := writeSynth(path, synthSpec{Streams: *streams, Packets: *packets, Loss: *loss, Jitter: *jitter, Seed: 1})
	if err != nil {
		return fmt.Errorf("bench: write capture: %w", err)
	}
	st, _ := os.Stat(path)

	// The analysis runs in a child process so that its peak memory is its own.
	child := exec.Command(os.Args[0], "bench-run", path, *cpuProfile)
	var out bytes.Buffer
	child.Stdout, child.Stderr = &out, os.Stderr
	if err := child.Run(); err != nil {
		return fmt.Errorf("bench: analysis: %w", err)
	}
	res := strings.Fields(out.String())
	if len(res) != 4 {
		return fmt.Errorf("bench: unexpected analysis output %q", out.String())
	}
	cpu, _ := time.ParseDuration(res[0])
	wall, _ := time.ParseDuration(res[1])
	mallocs, _ := strconv.ParseUint(res[2], 10, 64)
	calls, _ := strconv.Atoi(res[3])
	pps := float64(n) / cpu.Seconds()

	fmt.Printf("capture        %d packets, %d streams, %.1f MB\n", n, *streams, float64(st.Size())/1e6)
	fmt.Printf("analyze        %.0f packets/s of CPU (%.0f ns/packet), wall %s, %d calls\n", pps, 1e9/pps, wall.Round(time.Millisecond), calls)
	fmt.Printf("allocations    %.4f per packet (%d in all, stream setup and records included)\n", float64(mallocs)/float64(n), mallocs)
	fmt.Printf("stream state   %d bytes per stream (metrics.Stream)\n", unsafe.Sizeof(metrics.Stream{}))
	if rss, ok := peakRSS(child.ProcessState); ok {
		fmt.Printf("peak RSS       %.1f MB\n", float64(rss)/(1<<20))
	} else {
		fmt.Println("peak RSS       not available on this system")
	}
	if tshark, err := exec.LookPath("tshark"); err == nil && !*noTshark {
		t0 := time.Now()
		cmd := exec.Command(tshark, "-q", "-n", "-o", "rtp.heuristic_rtp:TRUE", "-z", "rtp,streams", "-r", path)
		if err := cmd.Run(); err != nil {
			fmt.Printf("tshark         failed: %v\n", err)
		} else {
			tt := time.Since(t0)
			fmt.Printf("tshark         %s wall for -z rtp,streams: the agent is %.0fx faster (wall)\n", tt.Round(time.Millisecond), tt.Seconds()/wall.Seconds())
		}
	} else if !*noTshark {
		fmt.Println("tshark         not installed: no comparison")
	}
	return nil
}

// benchRun is the child of bench: it analyses the file and prints CPU time, wall time,
// allocation count and calls.
func benchRun(args []string) error {
	if len(args) != 2 {
		return errors.New("bench-run: want a capture file and a profile path (may be empty)")
	}
	cfg := agent.DefaultConfig()
	cfg.Capture.Local = []string{"10.0.0.1"}
	cfg.Device.Name, cfg.Device.Description = "bench", "bench"
	calls := 0
	a, err := agent.New(cfg, zap.NewNop(), func(*agent.Finished) error { calls++; return nil })
	if err != nil {
		return err
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if args[1] != "" {
		f, err := os.Create(args[1])
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	cpu0 := cpuTime()
	t0 := time.Now()
	if err := a.ReplayFile(context.Background(), args[0]); err != nil {
		return err
	}
	wall := time.Since(t0)
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&after)
	fmt.Printf("%s %s %d %d\n", cpu, wall, after.Mallocs-before.Mallocs, calls)
	return nil
}
