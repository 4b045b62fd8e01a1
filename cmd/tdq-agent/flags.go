package main

import (
	"errors"
	"flag"
)

// parseFlags parses a subcommand's command line, taking flags before and after the positional
// arguments ("analyze a.pcap --local 10.0.0.1" works as well as the other order); "--" ends the
// flags. It returns the positional arguments. A malformed command line is a usageError.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}
