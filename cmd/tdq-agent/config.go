package main

import (
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tdq-agent/tdq-agent/agent"
)

func configCmd(args []string) error {
	if len(args) != 2 || args[0] != "check" || strings.HasPrefix(args[1], "-") {
		return usageError{"usage: tdq-agent config check FILE"}
	}
	cfg, err := agent.LoadConfig(args[1])
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings(args[1]) {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	if err := cfg.CheckRuntime(); err != nil {
		return fmt.Errorf("%s: the file is valid, but the agent could not start with it here:\n%w", args[1], err)
	}
	cfg.Uploader = cfg.Uploader.Redacted()
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s: ok\n", args[1])
	_, err = os.Stdout.Write(out)
	return err
}
