package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tdq-agent/tdq-agent/agent"
	"github.com/tdq-agent/tdq-agent/uploader"
)

const queueUsage = `usage: tdq-agent queue <list | show ID | retry ID|--all | purge --deadletter|--corrupt> --config FILE`

// queueCmd inspects and repairs the spool named by a config file. It is safe while the agent
// runs: list and show only read (files are replaced by atomic renames, so a read sees a whole
// version); purge only deletes from deadletter/ and corrupt/, which the running uploader only
// adds to; retry leaves a request that the spool's owner applies (see uploader.RequestRetry).
func queueCmd(args []string) error {
	return runQueue(args, os.Stdout)
}

func runQueue(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("queue", flag.ContinueOnError)
	configPath := fs.String("config", "", "config file whose uploader.spool_dir to use")
	all := fs.Bool("all", false, "retry: every dead-lettered and every waiting record")
	dead := fs.Bool("deadletter", false, "purge: delete the records in deadletter/")
	corrupt := fs.Bool("corrupt", false, "purge: delete the files in corrupt/")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		return usageError{queueUsage}
	}
	if *configPath == "" {
		return usageError{"queue: --config FILE is required (the spool is its uploader.spool_dir)"}
	}
	verb, rest := rest[0], rest[1:]
	onlyFor := func(flagSet bool, name, verbs string) error {
		if flagSet && !strings.Contains(verbs, verb) {
			return usageError{fmt.Sprintf("queue %s: %s is for %s", verb, name, verbs)}
		}
		return nil
	}
	if err := onlyFor(*all, "--all", "retry"); err != nil {
		return err
	}
	if err := onlyFor(*dead || *corrupt, "--deadletter/--corrupt", "purge"); err != nil {
		return err
	}
	cfg, err := agent.LoadConfig(*configPath)
	if err != nil {
		return err
	}
	dir := cfg.Uploader.SpoolDir
	switch {
	case verb == "list" && len(rest) == 0:
		return queueList(out, dir)
	case verb == "show" && len(rest) == 1:
		return queueShow(out, dir, rest[0])
	case verb == "retry" && (len(rest) == 1) != *all:
		id := ""
		if !*all {
			id = rest[0]
		}
		return queueRetry(out, dir, id)
	case verb == "purge" && len(rest) == 0 && *dead != *corrupt:
		state := uploader.StateDeadLetter
		if *corrupt {
			state = uploader.StateCorrupt
		}
		n, err := uploader.PurgeQueue(dir, state)
		fmt.Fprintf(out, "deleted %d files from %s/\n", n, state)
		return err
	}
	return usageError{queueUsage}
}

func queueList(out io.Writer, dir string) error {
	items, err := uploader.ListQueue(dir)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE\tID\tCREATED\tATTEMPTS\tNEXT ATTEMPT\tBYTES\tLAST STATUS")
	count := map[string]int{}
	for _, it := range items {
		count[it.State]++
		e := it.Entry
		status := e.LastStatus
		if it.Err != nil {
			status = it.Err.Error()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%s\n", it.State, e.ID, stamp(e.CreatedAt), e.Attempts,
			next(it), it.Size, oneLine(status, 80))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "%d pending, %d dead-lettered, %d corrupt in %s\n",
		count[uploader.StatePending], count[uploader.StateDeadLetter], count[uploader.StateCorrupt], dir)
	return nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func next(it uploader.QueueItem) string {
	switch {
	case it.State != uploader.StatePending:
		return "-"
	case it.Entry.Attempts == 0:
		return "now"
	}
	return stamp(it.Entry.NextAttempt)
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}

// queueShow prints one record as a one-line JSON object; the body is the record's JSON, compacted
// as encoding/json writes raw JSON (the agent spools it compact anyway).
func queueShow(out io.Writer, dir, id string) error {
	it, err := uploader.ShowQueue(dir, id)
	if err != nil {
		return err
	}
	e := it.Entry
	v := struct {
		State       string          `json:"state"`
		ID          string          `json:"id"`
		File        string          `json:"file"`
		Bytes       int64           `json:"bytes"`
		CreatedAt   string          `json:"created_at"`
		Attempts    int             `json:"attempts"`
		NextAttempt string          `json:"next_attempt"`
		LastStatus  string          `json:"last_status"`
		Problem     string          `json:"problem,omitempty"`
		Body        json.RawMessage `json:"body,omitempty"`
	}{it.State, e.ID, it.State + "/" + it.Name, it.Size, stamp(e.CreatedAt), e.Attempts, next(it), e.LastStatus, "", nil}
	if it.Err != nil {
		v.Problem = it.Err.Error()
	}
	if json.Valid(e.Body) {
		v.Body = e.Body
	}
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func queueRetry(out io.Writer, dir, id string) error {
	res, err := uploader.RequestRetry(dir, id)
	if err != nil {
		return err
	}
	switch {
	case !res.Queued:
		fmt.Fprintf(out, "requeued %d records; the agent sends them at its next start\n", res.Applied)
	case res.PID > 0:
		fmt.Fprintf(out, "retry requested; the running agent (pid %d) applies it within a few seconds\n", res.PID)
	default:
		fmt.Fprintln(out, "retry requested; the running agent applies it within a few seconds")
	}
	return nil
}
