package lab

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// The supervisor tells `weft lab up` how far it got, one line per event, over a pipe.
// `up` may have gone away (Ctrl-C), so write errors are ignored: the lab keeps starting.
const (
	progressStep  = "step "
	progressReady = "ready"
	progressError = "error "
)

type progressWriter struct{ f *os.File }

func (p *progressWriter) line(s string) {
	if p.f != nil {
		// One event per line: newlines inside a message travel as tabs.
		_, _ = fmt.Fprintln(p.f, strings.ReplaceAll(s, "\n", "\t"))
	}
}

func (p *progressWriter) step(format string, args ...any) {
	p.line(progressStep + fmt.Sprintf(format, args...))
}
func (p *progressWriter) ready()         { p.line(progressReady) }
func (p *progressWriter) fail(err error) { p.line(progressError + err.Error()) }

// readProgress calls onStep for each step and returns when the supervisor reports ready (nil),
// reports an error, or closes the pipe without either.
func readProgress(r io.Reader, onStep func(string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, progressStep):
			onStep(strings.TrimPrefix(line, progressStep))
		case line == progressReady:
			return nil
		case strings.HasPrefix(line, progressError):
			return fmt.Errorf("%s", strings.ReplaceAll(strings.TrimPrefix(line, progressError), "\t", "\n"))
		}
	}
	return fmt.Errorf("the lab supervisor exited before the lab was ready")
}
