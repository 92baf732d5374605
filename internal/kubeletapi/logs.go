package kubeletapi

import (
	"github.com/weftnet/weft/internal/crilog"

	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"time"
)

func (s *Server) serveContainerLogs(w http.ResponseWriter, r *http.Request) {
	ns, pod, ctr, err := containerRef(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	opts, err := parseLogOptions(r.URL.Query(), time.Now())
	if err != nil {
		http.Error(w, fmt.Sprintf("invalid log options: %v", err), http.StatusBadRequest)
		return
	}
	path, err := s.pods.LogPath(ns, pod, ctr, opts.previous)
	if err != nil {
		s.httpError(w, r, err)
		return
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		http.Error(w, fmt.Sprintf("container %q in pod %s/%s has no log yet", ctr, ns, pod), http.StatusNotFound)
		return
	} else if err != nil {
		s.httpError(w, r, fmt.Errorf("open log: %w", err))
		return
	}
	rc := http.NewResponseController(w)
	t := &logTail{
		path:  path,
		f:     f,
		br:    bufio.NewReaderSize(f, 64<<10),
		every: s.cfg.LogPollInterval,
		flush: func() error { return rc.Flush() },
	}
	defer func() { _ = t.close() }() // read-only: nothing to lose
	if opts.tailLines >= 0 {
		if err := seekTail(f, opts.tailLines); err != nil {
			s.httpError(w, r, fmt.Errorf("log %s: %w", path, err))
			return
		}
	}

	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	c := &logCopier{opts: opts, out: w, left: opts.limitBytes}
	// A previous instance has ended: there is nothing to wait for.
	follow := opts.follow && !opts.previous
	var exited func() bool
	if ec, ok := s.pods.(ExitChecker); ok {
		exited = func() bool { return ec.ContainerExited(ns, pod, ctr) }
	}
	err = t.copy(r.Context(), c, follow, exited)
	if c.skipped > 0 {
		s.log.Warn("container log has lines that are not CRI records; skipped them", "path", t.path, "lines", c.skipped)
	}
	if err != nil && !errors.Is(err, errLimitReached) {
		// The status is sent: all that is left is to cut the response short.
		s.log.Info("container log stream ended", "namespace", ns, "pod", pod, "container", ctr, "err", err)
	}
}

// httpError answers 404 for ErrNotFound and 500 otherwise.
func (s *Server) httpError(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	if errors.Is(err, ErrNotFound) {
		code = http.StatusNotFound
	} else {
		s.log.Error("kubelet API request failed", "path", r.URL.Path, "err", err)
	}
	http.Error(w, err.Error(), code)
}

var errLimitReached = errors.New("limitBytes reached")

// logCopier writes the text of CRI records as kubectl shows it.
type logCopier struct {
	opts    logOptions
	out     io.Writer
	left    int64 // bytes left under limitBytes, when set
	midLine bool  // the last record written was partial
	skipped int   // lines that are not CRI records
	buf     []byte
}

func (c *logCopier) record(line []byte) error {
	rec, err := crilog.ParseRecord(line)
	if err != nil {
		c.skipped++ // a torn or foreign line must not end the stream; the handler reports the count
		return nil
	}
	if !c.opts.since.IsZero() && rec.Time.Before(c.opts.since) {
		return nil
	}
	if rec.Stream == crilog.Stdout && !c.opts.stdout || rec.Stream == crilog.Stderr && !c.opts.stderr {
		return nil
	}
	c.buf = c.buf[:0]
	if c.opts.timestamps && !c.midLine {
		c.buf = rec.Time.AppendFormat(c.buf, time.RFC3339Nano)
		c.buf = append(c.buf, ' ')
	}
	c.buf = append(c.buf, rec.Text...)
	if !rec.Partial {
		c.buf = append(c.buf, '\n')
	}
	c.midLine = rec.Partial
	out := c.buf
	if c.opts.limitBytes > 0 && int64(len(out)) >= c.left {
		out = out[:c.left]
		c.left = 0
		if _, err := c.out.Write(out); err != nil {
			return err
		}
		return errLimitReached
	}
	c.left -= int64(len(out))
	_, err = c.out.Write(out)
	return err
}

// logTail reads a log file record by record, waiting for more at its end when following.
type logTail struct {
	path  string
	f     *os.File
	br    *bufio.Reader
	carry []byte // the start of a record whose newline is not written yet
	every time.Duration
	flush func() error
}

// drain passes every complete record up to the end of the file to c.
func (t *logTail) drain(c *logCopier) error {
	for {
		chunk, err := t.br.ReadSlice('\n')
		switch {
		case err == nil && len(t.carry) == 0:
			if err := c.record(chunk[:len(chunk)-1]); err != nil {
				return err
			}
		case err == nil:
			t.carry = append(t.carry, chunk...)
			line := t.carry[:len(t.carry)-1]
			t.carry = t.carry[:0]
			if err := c.record(line); err != nil {
				return err
			}
		case errors.Is(err, bufio.ErrBufferFull):
			t.carry = append(t.carry, chunk...)
		case errors.Is(err, io.EOF):
			t.carry = append(t.carry, chunk...)
			return nil
		default:
			return fmt.Errorf("read log %s: %w", t.path, err)
		}
	}
}

// copy sends the log to c, then with follow keeps sending what is appended until ctx ends or,
// when exited is known, the container has exited and its log is read to the end.
func (t *logTail) copy(ctx context.Context, c *logCopier, follow bool, exited func() bool) error {
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	lastRound := !follow
	for {
		if err := t.drain(c); err != nil {
			return err
		}
		if err := t.flush(); err != nil {
			return fmt.Errorf("send log: %w", err)
		}
		if lastRound {
			return nil
		}
		// Checked after reading to the end, then read once more: the last lines may have been
		// written between the two.
		if exited != nil && exited() {
			lastRound = true
			continue
		}
		if err := t.reopenIfRotated(c); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// reopenIfRotated switches to the file now at path once the one being read was renamed away,
// after reading what was appended to the old one meanwhile.
func (t *logTail) reopenIfRotated(c *logCopier) error {
	now, err := os.Stat(t.path)
	if err != nil {
		return nil // between rename and re-creation: the next tick will see the new file
	}
	cur, err := t.f.Stat()
	if err != nil {
		return fmt.Errorf("stat log %s: %w", t.path, err)
	}
	if os.SameFile(now, cur) {
		return nil
	}
	if err := t.drain(c); err != nil {
		return err
	}
	f, err := os.Open(t.path)
	if err != nil {
		return nil // gone again: keep waiting
	}
	_ = t.f.Close() // read-only: nothing to lose
	t.f, t.carry = f, t.carry[:0]
	t.br.Reset(f)
	return nil
}

func (t *logTail) close() error { return t.f.Close() }

// seekTail positions f at the start of its last n records; a newline ending the file ends the
// last record rather than starting an empty one.
func seekTail(f *os.File, n int64) error {
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	off, err := tailOffset(f, end, n)
	if err != nil {
		return err
	}
	_, err = f.Seek(off, io.SeekStart)
	return err
}

func tailOffset(r io.ReaderAt, size, n int64) (int64, error) {
	if n == 0 {
		return size, nil
	}
	const block = 32 << 10
	buf := make([]byte, block)
	var count int64
	for pos := size; pos > 0; {
		start := max(0, pos-block)
		b := buf[:pos-start]
		if _, err := r.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] != '\n' || start+int64(i) == size-1 {
				continue
			}
			if count++; count == n {
				return start + int64(i) + 1, nil
			}
		}
		pos = start
	}
	return 0, nil
}
