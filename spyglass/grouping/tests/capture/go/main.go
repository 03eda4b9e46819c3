// Debian's sentry-go (golang-github-getsentry-sentry-go-dev) cases for regenerate.py: each
// sends one event to $SENTRY_DSN. usage: capture CASE (built in GOPATH mode, offline).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/getsentry/sentry-go"
)

type QuotaError struct {
	Tenant string
	Limit  int
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("tenant %s exceeded its quota of %d requests", e.Tenant, e.Limit)
}

func fetchProfile(id int) error {
	return fmt.Errorf("fetch profile %d: %w", id, io.ErrUnexpectedEOF)
}

func syncUser(id int) error {
	if err := fetchProfile(id); err != nil {
		return fmt.Errorf("sync user %d: %w", id, err)
	}
	return nil
}

func pickShard(shards []string, key int) string {
	return shards[key%7] // panics with a runtime.boundsError for key 5
}

func route(key int) {
	defer sentry.Recover()
	fmt.Println(pickShard([]string{"a", "b", "c"}, key))
}

func submitJob(name string) {
	defer sentry.Recover()
	panic("job submission failed: " + name)
}

func runJob() error {
	return errors.New("job runner: provider timeout")
}

func reportThroughput(worker, jobs int, took time.Duration) {
	sentry.CaptureMessage(fmt.Sprintf("worker %d processed %d jobs in %v", worker, jobs, took))
}

// run is a switch, not a map of closures: closures get names like glob..func3, which would
// change every frame's function (and the grouping) when a case is added.
func run(name string) bool {
	switch name {
	case "errors_new":
		sentry.CaptureException(runJob())
	case "wrapped_errorf":
		sentry.CaptureException(syncUser(42))
	case "custom_error_type":
		sentry.CaptureException(&QuotaError{Tenant: "acme", Limit: 1000})
	case "panic_recovered":
		route(5)
	case "panic_message":
		submitJob("nightly-report")
	case "message_numbers_a":
		reportThroughput(3, 1200, 350*time.Millisecond)
	case "message_numbers_b":
		reportThroughput(17, 88, 12*time.Millisecond)
	case "custom_fingerprint":
		sentry.WithScope(func(scope *sentry.Scope) {
			scope.SetFingerprint([]string{"job-runner", "provider-timeout"})
			sentry.CaptureException(runJob())
		})
	default:
		return false
	}
	return true
}

func main() {
	err := sentry.Init(sentry.ClientOptions{
		Dsn:         os.Getenv("SENTRY_DSN"),
		Release:     "capture@1.0.0",
		Environment: "production",
		ServerName:  "capture-host",
		// the SDK's default (off), but on for the panic with a string value, which then
		// carries the stack as a thread
		AttachStacktrace: os.Args[1] == "panic_message",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "init:", err)
		os.Exit(1)
	}
	if !run(os.Args[1]) {
		fmt.Fprintln(os.Stderr, "unknown case", os.Args[1])
		os.Exit(2)
	}
	if !sentry.Flush(10 * time.Second) {
		fmt.Fprintln(os.Stderr, "flush timed out")
		os.Exit(3)
	}
}
