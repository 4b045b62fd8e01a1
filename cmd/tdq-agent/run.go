package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/tdq-agent/tdq-agent/agent"
	"github.com/tdq-agent/tdq-agent/uploader"
)

func runCmd(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	configPath := fs.String("config", "", "config file (see configs/agent.yaml)")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Sprintf("run: unexpected argument %q (capture files go in capture.files of the config)", rest[0])}
	}
	if *configPath == "" {
		return usageError{"run: --config FILE is required (configs/agent.yaml documents every option)"}
	}
	cfg, err := agent.LoadConfig(*configPath)
	if err != nil {
		return err
	}
	if err := cfg.CheckRuntime(); err != nil {
		return fmt.Errorf("%s: %w", *configPath, err)
	}
	log, err := agent.NewLogger(cfg.Log)
	if err != nil {
		return err
	}
	defer log.Sync()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, cfg, log)
}

// run wires source -> agent -> spool -> upload. A file replay ends the run once the files are
// read and a bounded flush has tried the pending records; everything not delivered stays
// spooled for the next start. Without files it only uploads the spool, until interrupted.
func run(ctx context.Context, cfg agent.Config, log *zap.Logger) error {
	sink, err := uploader.NewSink(cfg.Uploader, userAgent(), log)
	if err != nil {
		return err
	}
	up, err := uploader.New(cfg.Uploader, sink, log)
	if err != nil {
		return err
	}
	defer up.Close() // releases the spool lock for the next start
	fields := []zap.Field{zap.String("version", version), zap.String("sink", cfg.Uploader.Sink),
		zap.String("spool", cfg.Uploader.SpoolDir), zap.Int("files", len(cfg.Capture.Files)),
		zap.Strings("interfaces", cfg.Capture.Interfaces)}
	if cfg.Uploader.Sink == uploader.SinkOutbox {
		fields = append(fields, zap.String("outbox", cfg.Uploader.OutboxDir))
	}
	log.Info("agent starting", fields...)

	// The upload loop has its own context: shutdown stops it after capture has ended and the
	// last call is spooled, and waits for the request in flight.
	upCtx, stopUpload := context.WithCancel(context.Background())
	upDone := make(chan error, 1)
	go func() { upDone <- up.Run(upCtx) }()
	stop := func() {
		stopUpload()
		<-upDone
		log.Info("agent stopped", zap.Any("uploads", up.Stats()))
	}

	a, err := agent.New(cfg, log, func(f *agent.Finished) error { return up.Enqueue(f.JSON) })
	if err != nil {
		return err
	}
	if len(cfg.Capture.Interfaces) > 0 {
		err := a.RunLive(ctx)
		stop()
		return err
	}
	if len(cfg.Capture.Files) == 0 {
		log.Warn("no capture source configured (capture.files and capture.interfaces are empty): uploading spooled records only")
		<-ctx.Done()
		stop()
		return nil
	}
	var failed error
	for _, name := range cfg.Capture.Files {
		if err := a.ReplayFile(ctx, name); err != nil {
			log.Error("capture file could not be read to its end", zap.String("file", name), zap.Error(err))
			failed = errors.Join(failed, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() == nil {
		if err := up.Flush(ctx); err != nil {
			log.Warn("records left in the spool for the next start", zap.Error(err))
		}
	}
	stop()
	return failed
}
