package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/kardianos/service"
	"go.uber.org/zap"

	"github.com/tdq-agent/tdq-agent/agent"
)

const serviceName = "tdq-agent"

// stopTimeout bounds a service stop: the Windows SCM waits about 20 s before it calls a service
// hung, and systemd's TimeoutStopSec is set to 20 s too. Capture ends within a poll interval and
// the call in progress is spooled at once; only an upload in flight may be cut short (its record
// stays spooled and is sent again).
const stopTimeout = 15 * time.Second

// program adapts the agent to kardianos/service: Start must return at once, Stop must finish
// within the service manager's timeout.
type program struct {
	configPath string
	cancel     context.CancelFunc
	done       chan error
	slog       service.Logger
}

func (p *program) Start(s service.Service) error {
	cfg, err := agent.LoadConfig(p.configPath)
	if err == nil {
		err = cfg.CheckRuntime()
	}
	if err != nil {
		return err
	}
	log, level, err := agent.NewLoggerLevel(cfg.Log)
	if err != nil {
		return err
	}
	log = log.With(zap.String("service", serviceName))
	for _, w := range cfg.Warnings(p.configPath) {
		log.Warn("config file exposes a secret", zap.String("warning", w))
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan error, 1)
	// systemd's ExecReload sends SIGHUP: without a handler it would end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer log.Sync()
		defer signal.Stop(hup)
		p.done <- runWith(ctx, cfg, log, func(a *agent.Agent) {
			go reloadOnHUP(ctx, hup, p.configPath, a, level, log)
		})
	}()
	p.slog.Info("tdq-agent started")
	return nil
}

func (p *program) Stop(s service.Service) error {
	p.cancel()
	select {
	case err := <-p.done:
		if err != nil {
			p.slog.Error("tdq-agent stopped with an error: " + err.Error())
			return err
		}
	case <-time.After(stopTimeout):
		p.slog.Warning("tdq-agent stop timed out; spooled records are kept")
	}
	p.slog.Info("tdq-agent stopped")
	return nil
}

func serviceCmd(args []string) error {
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	configPath := fs.String("config", defaultConfigPath(), "config file the service runs with")
	root := fs.String("root", "/", "install the systemd unit under this root (Linux; for packaging and tests)")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError{"usage: tdq-agent service install|uninstall|start|stop|restart|reload|status|run [--config FILE]"}
	}
	abs, err := filepath.Abs(*configPath)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the agent's executable: %w", err)
	}
	prg := &program{configPath: abs}
	s, err := service.New(prg, &service.Config{
		Name:        serviceName,
		DisplayName: "tdq-agent",
		Description: "Reports the network quality of every call of this room device to Microsoft Graph",
		Executable:  exe,
		Arguments:   []string{"service", "run", "--config", abs},
		Option: service.KeyValue{
			// Windows recovery actions: restart after a failure.
			"OnFailure": "restart", "OnFailureDelayDuration": "5s", "OnFailureResetPeriod": 86400,
			"DelayedAutoStart": true,
		},
	})
	if err != nil {
		return err
	}
	prg.slog, err = s.Logger(nil)
	if err != nil {
		return err
	}
	switch action := rest[0]; action {
	case "run":
		return s.Run()
	case "install":
		if runtime.GOOS == "linux" {
			return installSystemd(*root, exe, abs)
		}
		return s.Install()
	case "uninstall":
		if runtime.GOOS == "linux" {
			return uninstallSystemd(*root)
		}
		return s.Uninstall()
	case "status":
		st, err := s.Status()
		if err != nil {
			return err
		}
		fmt.Println(map[service.Status]string{service.StatusRunning: "running", service.StatusStopped: "stopped"}[st])
		return nil
	case "start", "stop", "restart":
		return service.Control(s, action)
	case "reload":
		// SIGHUP re-reads the config in a running agent; only systemd can deliver it to the
		// service's process for us.
		if runtime.GOOS != "linux" {
			return errors.New("service reload: not available here; restart the service to apply a changed config")
		}
		return systemctl("reload " + serviceName)
	default:
		return usageError{fmt.Sprintf("service: unknown action %q, want install, uninstall, start, stop, restart, reload, status or run", action)}
	}
}

func defaultConfigPath() string {
	if runtime.GOOS == "windows" {
		return filepath.Join(os.Getenv("ProgramData"), "tdq-agent", "agent.yaml")
	}
	return "/etc/tdq-agent/agent.yaml"
}

var errNoSystemd = errors.New("systemctl not found: the unit file was written; enable it with your init system")
