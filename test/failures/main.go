// Command failures reads `go test -json` on stdin, prints the test output as `go test -v`
// would, and ends with a digest of every failed test's own output. A long end-to-end run
// prints thousands of lines; a CI log that keeps only its tail still shows why a test failed.
// It exits 1 when a test or a package failed, or when the stream ended without a result.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// digestLines caps each failed test's part of the digest: the cause is near its end.
const digestLines = 60

func main() {
	failed, err := follow(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "failures:", err)
		os.Exit(1)
	}
	if failed {
		os.Exit(1)
	}
}

// follow copies the output through and returns whether anything failed.
func follow(in io.Reader, out io.Writer) (bool, error) {
	var (
		outputs  = map[string][]string{} // package + test → its own output lines
		failures []string                // package + test, in the order they failed
		results  int                     // package-level pass or fail events
		failed   bool
	)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			// Not an event (the go command's own message): pass it on.
			fmt.Fprintln(out, sc.Text())
			continue
		}
		key := ev.Package + " " + ev.Test
		switch ev.Action {
		case "output", "build-output":
			fmt.Fprint(out, ev.Output)
			if !strings.HasPrefix(strings.TrimSpace(ev.Output), "=== ") {
				outputs[key] = append(outputs[key], ev.Output)
			}
		case "fail", "build-fail":
			failed = true
			failures = append(failures, key)
			if ev.Test == "" {
				results++
			}
		case "pass":
			if ev.Test == "" {
				results++
			}
		}
	}
	if err := sc.Err(); err != nil {
		return true, err
	}
	if results == 0 {
		fmt.Fprintln(out, "failures: the test run ended without a result")
		return true, nil
	}
	if len(failures) > 0 {
		fmt.Fprintln(out, "\n=== failure digest: each failed test's own output")
		for _, key := range failures {
			lines := outputs[key]
			if len(lines) > digestLines {
				lines = append([]string{fmt.Sprintf("    (%d earlier lines left out)\n", len(lines)-digestLines)}, lines[len(lines)-digestLines:]...)
			}
			fmt.Fprintf(out, "--- %s\n%s", strings.TrimSpace(key), strings.Join(lines, ""))
		}
	}
	return failed, nil
}
