package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/tdq-agent/tdq-agent/agent"
)

func analyzeCmd(args []string) error {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	local := fs.String("local", "", "the device's IP address(es), comma-separated (default: guessed from the capture)")
	configPath := fs.String("config", "", "take metrics, call and device settings from this config file")
	verbose := fs.Bool("v", false, "log progress (info level) on standard error")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: tdq-agent analyze [--local IP] [--config FILE] [-v] FILE...")
		fs.PrintDefaults()
	}
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fs.Usage()
		return usageError{"analyze: no capture file given"}
	}
	cfg := agent.DefaultConfig()
	if *configPath != "" {
		if cfg, err = agent.LoadAnalysisConfig(*configPath); err != nil {
			return err
		}
	}
	if *local != "" {
		cfg.Capture.Local = strings.Split(*local, ",")
	}
	cfg.Capture.ReplaySpeed = 0
	cfg.Log.Level = "warn"
	if *verbose {
		cfg.Log.Level = "info"
	}
	cfg.Log.File = ""
	if err := cfg.Capture.Validate(); err != nil { // analyze uploads nothing: only --local matters
		return err
	}
	log, err := agent.NewLogger(cfg.Log)
	if err != nil {
		return err
	}
	defer log.Sync()

	out := os.Stdout
	a, err := agent.New(cfg, log, func(f *agent.Finished) error {
		printSummary(os.Stderr, f)
		_, err := fmt.Fprintf(out, "%s\n", f.JSON)
		return err
	})
	if err != nil {
		return err
	}
	var failed []string
	for _, name := range files {
		if err := a.ReplayFile(context.Background(), name); err != nil {
			fmt.Fprintln(os.Stderr, "tdq-agent: analyze:", err)
			failed = append(failed, name)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("analyze: %d of %d files could not be read: %s", len(failed), len(files), strings.Join(failed, ", "))
	}
	return nil
}

// printSummary writes the human table of one call: a line per channel.
func printSummary(w io.Writer, f *agent.Finished) {
	q := f.Body.Quality
	fmt.Fprintf(w, "call %s  %s  %s  (%s)\n", q.CallChainID, f.Start.UTC().Format("2006-01-02 15:04:05"), f.End.Sub(f.Start).Round(1e6), f.Source)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ch\tkind\tlocal\tremote\tin pkts\tin loss %\tin jitter ms (avg/max)\tout pkts\tout loss %\tRTT ms\tclock\t")
	for _, c := range f.Channels {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%d\t%s\t%s\t%s\t\n", c.Index, c.Kind, c.Local, c.Remote,
			c.InPackets, num(c.InLossPct, 2), jitter(c), c.OutPackets, num(c.OutLossPct, 2), num(c.RTTMs, 2),
			clock(c))
	}
	tw.Flush()
	if f.LocalGuessed {
		fmt.Fprintln(w, "  (local end guessed from the capture; pass --local IP to set it)")
	}
	fmt.Fprintln(w)
}

func num(v float64, prec int) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

func jitter(c agent.ChannelSummary) string {
	if c.InJitterMs < 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f/%.3f", c.InJitterMs, c.InJitterMaxMs)
}

func clock(c agent.ChannelSummary) string {
	if c.Clock == 0 {
		return "unknown"
	}
	return fmt.Sprintf("%d (%s)", c.Clock, c.ClockSource)
}
