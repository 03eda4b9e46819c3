// Drive Debian's sentry-go (golang-github-getsentry-sentry-go-dev) against a DSN.
// It posts events to the legacy /api/<id>/store/ endpoint. Prints the event ids as JSON.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/getsentry/sentry-go"
)

func main() {
	err := sentry.Init(sentry.ClientOptions{
		Dsn:         os.Getenv("SENTRY_DSN"),
		Release:     os.Getenv("E2E_RELEASE"),
		Environment: "e2e",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "init:", err)
		os.Exit(1)
	}
	exception := sentry.CaptureException(errors.New("job runner: provider timeout"))
	message := sentry.CaptureMessage("job queue is backing up")
	if exception == nil || message == nil {
		fmt.Fprintln(os.Stderr, "an event was dropped before sending")
		os.Exit(1)
	}
	if !sentry.Flush(20 * time.Second) {
		fmt.Fprintln(os.Stderr, "flush timed out")
		os.Exit(2)
	}
	out, _ := json.Marshal(map[string]string{"exception": string(*exception), "message": string(*message)})
	fmt.Println(string(out))
}
