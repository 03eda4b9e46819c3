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

var cases = map[string]func(){
	"errors_new":        func() { sentry.CaptureException(runJob()) },
	"wrapped_errorf":    func() { sentry.CaptureException(syncUser(42)) },
	"custom_error_type": func() { sentry.CaptureException(&QuotaError{Tenant: "acme", Limit: 1000}) },
	"panic_recovered":   func() { route(5) },
	"panic_message":     func() { submitJob("nightly-report") },
	"message_numbers_a": func() { sentry.CaptureMessage("worker 3 processed 1200 jobs in 350ms") },
	"message_numbers_b": func() { sentry.CaptureMessage("worker 17 processed 88 jobs in 12ms") },
	"custom_fingerprint": func() {
		sentry.WithScope(func(scope *sentry.Scope) {
			scope.SetFingerprint([]string{"job-runner", "provider-timeout"})
			sentry.CaptureException(runJob())
		})
	},
}

func main() {
	err := sentry.Init(sentry.ClientOptions{
		Dsn:              os.Getenv("SENTRY_DSN"),
		Release:          "capture@1.0.0",
		Environment:      "production",
		ServerName:       "capture-host",
		AttachStacktrace: true,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "init:", err)
		os.Exit(1)
	}
	run, ok := cases[os.Args[1]]
	if !ok {
		fmt.Fprintln(os.Stderr, "unknown case", os.Args[1])
		os.Exit(2)
	}
	run()
	if !sentry.Flush(10 * time.Second) {
		fmt.Fprintln(os.Stderr, "flush timed out")
		os.Exit(3)
	}
}
