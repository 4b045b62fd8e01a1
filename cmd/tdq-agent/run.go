package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

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
	log, level, err := agent.NewLoggerLevel(cfg.Log)
	if err != nil {
		return err
	}
	defer log.Sync()
	for _, w := range cfg.Warnings(*configPath) {
		log.Warn("config file exposes a secret", zap.String("warning", w))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	return runWith(ctx, cfg, log, func(a *agent.Agent) {
		go reloadOnHUP(ctx, hup, *configPath, a, level, log)
	})
}

// reloadOnHUP re-reads the config on each SIGHUP: a config that does not validate is refused
// and the running one kept; a valid one changes the log level and the device's names at once,
// and the log names the options that take a restart.
func reloadOnHUP(ctx context.Context, hup <-chan os.Signal, path string, a *agent.Agent, level zap.AtomicLevel, log *zap.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		next, err := agent.LoadConfig(path)
		if err != nil {
			log.Error("config reload refused; the running config stays", zap.String("file", path), zap.Error(err))
			continue
		}
		if l, err := zapcore.ParseLevel(next.Log.Level); err == nil {
			level.SetLevel(l)
		}
		if keys := a.Reload(next); len(keys) > 0 {
			log.Warn("config reloaded; these options changed and take effect after a restart", zap.Strings("options", keys))
		} else {
			log.Info("config reloaded")
		}
	}
}

// run wires source -> agent -> spool -> upload. A file replay ends the run once the files are
// read and a bounded flush has tried the pending records; everything not delivered stays
// spooled for the next start. Without files it only uploads the spool, until interrupted.
func run(ctx context.Context, cfg agent.Config, log *zap.Logger) error {
	return runWith(ctx, cfg, log, nil)
}

// runWith is run with a hook that gets the agent once it is built (for config reloads).
func runWith(ctx context.Context, cfg agent.Config, log *zap.Logger, built func(*agent.Agent)) error {
	sink, err := uploader.NewSink(cfg.Uploader, userAgent(), log)
	if err != nil {
		return err
	}
	// The upload-latency metric's server starts after the uploader; attempts before it are not
	// observed.
	var onUpload atomic.Pointer[func(time.Duration)]
	up, err := uploader.New(cfg.Uploader, sink, log, uploader.WithSendObserver(func(d time.Duration, _ error) {
		if f := onUpload.Load(); f != nil {
			(*f)(d)
		}
	}))
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
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			stopUpload()
			<-upDone
			log.Info("agent stopped", zap.Any("uploads", up.Stats()))
		})
	}
	defer stop() // on the error paths below; the normal ones stop before they return

	a, err := agent.New(cfg, log, func(f *agent.Finished) error { return up.Enqueue(f.JSON) })
	if err != nil {
		return err
	}
	if built != nil {
		built(a)
	}
	if cfg.Ops.Listen != "" {
		opsCtx, stopOps := context.WithCancel(context.Background())
		wait, err := startOps(opsCtx, cfg.Ops, log, a, up, len(cfg.Capture.Interfaces) > 0, &onUpload)
		if err != nil {
			stopOps()
			return err
		}
		// The endpoints outlive capture until the uploader has stopped, then end with run.
		defer func() {
			stopOps()
			wait()
		}()
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
