// Command tdq-agent measures the network quality of a room device's calls and reports each call
// to Microsoft Graph; see the README for the subcommands.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=1.2.3".
var version = "0.1.0-dev"

const usage = `usage: tdq-agent <command> [flags]

commands:
  run --config FILE          run the agent in the foreground (capture, measure, spool, upload)
  analyze [--local IP] [--config FILE] [-v] FILE...
                             print each call's Graph request body (one JSON line per call)
  config check FILE          validate a config file and print the effective config
  queue list|show ID|retry ID|--all|purge --deadletter|--corrupt --config FILE
                             inspect and repair the spool (safe while the agent runs)
  service install|uninstall|start|stop|restart|reload|status [--config FILE] [--root DIR]
                             the system service (systemd on Linux, the SCM on Windows);
                             "service run" is what the service manager starts
  bench [--packets N] [--streams N] [--no-tshark] [--keep FILE] [--cpuprofile FILE]
                             measure analyze on a generated capture
  version                    print the version
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	// exit codes: 0 done, 1 failed, 2 the command line was wrong.
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "run":
		err = runCmd(args)
	case "analyze":
		err = analyzeCmd(args)
	case "config":
		err = configCmd(args)
	case "queue":
		err = queueCmd(args)
	case "bench":
		err = benchCmd(args)
	case "service":
		err = serviceCmd(args)
	case "bench-run": // the child process of bench
		err = benchRun(args)
	case "version", "--version":
		if len(args) > 0 {
			err = usageError{"version takes no arguments"}
			break
		}
		fmt.Println("tdq-agent", version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "tdq-agent: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	var usage usageError
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		// The flag package printed the usage: asking for help is not a failure.
	case errors.As(err, &usage):
		fmt.Fprintln(os.Stderr, "tdq-agent:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "tdq-agent:", err)
		os.Exit(1)
	}
}

// usageError is a command line that cannot be run as given; it exits 2, like flag errors.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func userAgent() string { return "tdq-agent/" + version }
