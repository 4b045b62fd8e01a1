package main

import (
	"errors"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/tdq-agent/tdq-agent/agent"
)

func configCmd(args []string) error {
	if len(args) != 2 || args[0] != "check" {
		return errors.New("usage: tdq-agent config check FILE")
	}
	cfg, err := agent.LoadConfig(args[1])
	if err != nil {
		return err
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
