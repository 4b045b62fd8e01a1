package main

import (
	"context"
	"errors"
	"flag"
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
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *configPath == "" {
		return errors.New("run: --config FILE is required (configs/agent.yaml documents every option)")
	}
	cfg, err := agent.LoadConfig(*configPath)
	if err != nil {
		return err
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
	log.Info("agent starting", zap.String("version", version), zap.String("sink", cfg.Uploader.Sink),
		zap.String("spool", cfg.Uploader.SpoolDir), zap.Int("files", len(cfg.Capture.Files)))

	upCtx, stopUpload := context.WithCancel(context.Background())
	upDone := make(chan error, 1)
	go func() { upDone <- up.Run(upCtx) }()
	defer func() {
		stopUpload()
		<-upDone
	}()

	a, err := agent.New(cfg, log, func(f *agent.Finished) error { return up.Enqueue(f.JSON) })
	if err != nil {
		return err
	}
	if len(cfg.Capture.Files) == 0 {
		log.Warn("no capture source configured (capture.files is empty): uploading spooled records only")
		<-ctx.Done()
		log.Info("agent stopping", zap.Any("uploads", up.Stats()))
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
		fctx, cancel := context.WithTimeout(ctx, cfg.Uploader.FlushTimeout)
		if err := up.Flush(fctx); err != nil {
			log.Warn("records left in the spool for the next start", zap.Error(err))
		}
		cancel()
	}
	log.Info("agent stopping", zap.Any("uploads", up.Stats()))
	return failed
}
