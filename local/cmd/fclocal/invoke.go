package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"vodfc.dev/local/cloud"
	"vodfc.dev/local/fcemu"
)

func init() {
	commands["invoke"] = command{summary: "invoke one function with an event, like sam local invoke", run: runInvoke}
}

func runInvoke(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	var cf cloudFlags
	cf.register(fs)
	eventPath := fs.String("event", "", "file holding the event, - for stdin (default: {}); `fclocal event` prints samples")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: fclocal invoke FUNCTION [--event FILE|-] [flags]\n\nUses the local cloud running at --addr when there is one; otherwise starts one with just this function.")
		fs.PrintDefaults()
	}
	// Accept the function name before or after the flags.
	var name string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	}
	if name == "" {
		fs.Usage()
		return errors.New("which function? give its functionName from s.yaml")
	}
	event, err := readEvent(*eventPath, os.Stdin)
	if err != nil {
		return err
	}
	if out, handled, err := invokeRunning(ctx, cf.addr, name, event); handled {
		if err != nil {
			return err
		}
		os.Stdout.Write(out)
		fmt.Println()
		return nil
	}

	opts, err := cf.options(os.Stderr)
	if err != nil {
		return err
	}
	opts.Functions = []string{name}
	// Free ports: this cloud lives for one invocation and must not collide with anything.
	opts.Addr, opts.OSSAddr, opts.OTSAddr, opts.SMTPAddr, opts.RedisAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	c, err := cloud.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer c.Close()
	out, inv, err := c.FC.InvokeRecorded(ctx, name, event)
	fmt.Fprintf(os.Stderr, "\nrequest %s  %s  %.1f ms  cold start %v", inv.RequestID, inv.Status, inv.DurationMS, inv.ColdStart)
	if inv.ColdStart {
		fmt.Fprintf(os.Stderr, " (%.1f ms)", inv.ColdStartMS)
	}
	fmt.Fprintln(os.Stderr)
	var fe *fcemu.Error
	if errors.As(err, &fe) {
		if fe.Payload != nil {
			os.Stdout.Write(fe.Payload)
			fmt.Println()
		}
		return fmt.Errorf("%s failed: %v", name, fe)
	}
	if err != nil {
		return err
	}
	os.Stdout.Write(out)
	fmt.Println()
	return nil
}

// readEvent reads the event from a file or stdin; no file means an empty JSON object.
func readEvent(path string, stdin io.Reader) ([]byte, error) {
	switch path {
	case "":
		return []byte("{}"), nil
	case "-":
		return io.ReadAll(io.LimitReader(stdin, fcemu.MaxSyncPayload+1))
	}
	return os.ReadFile(path)
}

// invokeRunning invokes through the console of a local cloud already running at addr.
// handled is false when none answers there.
func invokeRunning(ctx context.Context, addr, name string, event []byte) (out []byte, handled bool, err error) {
	base := "http://" + addr
	hc := &http.Client{Timeout: time.Second}
	resp, err := hc.Get(base + "/_local/health")
	if err != nil {
		return nil, false, nil
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, false, nil
	}
	fmt.Fprintf(os.Stderr, "fclocal: invoking %s on the local cloud at %s\n", name, base)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/_local/invoke/"+url.PathEscape(name), bytes.NewReader(event))
	if err != nil {
		return nil, true, err
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		return nil, true, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, true, err
	}
	if resp.StatusCode != http.StatusOK {
		os.Stdout.Write(body)
		fmt.Println()
		if t := resp.Header.Get("x-fc-error-type"); t != "" {
			return nil, true, fmt.Errorf("%s failed (%s); its log: %s/_local/invocations?function=%s&limit=1", name, t, base, url.QueryEscape(name))
		}
		return nil, true, fmt.Errorf("the local cloud answered %s", resp.Status)
	}
	return body, true, nil
}
