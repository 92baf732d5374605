// Package crilog reads and writes container logs in the CRI log format the kubelet serves:
// `<RFC3339Nano time> <stdout|stderr> <F|P> <text>`, one record per line.
package crilog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Stream names used in CRI log records.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// The tags of a CRI log record: a full record ends a line, a partial one continues on the next record.
const (
	tagFull    = "F"
	tagPartial = "P"
)

// MaxLogLineSize is the longest text a LogWriter keeps in one record before it writes a partial
// record; containerd uses the same 16 KiB so that one long line never holds unbounded memory.
const MaxLogLineSize = 16 * 1024

// Record is one line of a CRI log file.
type Record struct {
	Time    time.Time
	Stream  string
	Partial bool
	Text    []byte
}

var errMalformedRecord = errors.New("malformed CRI log record")

// ParseRecord parses `<RFC3339Nano> <stdout|stderr> <F|P>[:more tags] <text>`, line being
// without its trailing newline. text aliases line.
func ParseRecord(line []byte) (Record, error) {
	var r Record
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return r, fmt.Errorf("%w: no stream field", errMalformedRecord)
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return r, fmt.Errorf("%w: timestamp: %w", errMalformedRecord, err)
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return r, fmt.Errorf("%w: no tag field", errMalformedRecord)
	}
	switch string(stream) {
	case Stdout, Stderr:
	default:
		return r, fmt.Errorf("%w: stream %q", errMalformedRecord, stream)
	}
	// The text may be empty, and writers differ on whether a space then follows the tags.
	tags, text, _ := bytes.Cut(rest, []byte{' '})
	tag, _, _ := bytes.Cut(tags, []byte{':'})
	switch string(tag) {
	case tagFull, tagPartial:
	default:
		return r, fmt.Errorf("%w: tag %q", errMalformedRecord, tags)
	}
	return Record{Time: t, Stream: string(stream), Partial: string(tag) == tagPartial, Text: text}, nil
}

// appendLogRecord appends one record holding text, which must not contain a newline.
func appendLogRecord(buf []byte, stream string, t time.Time, partial bool, text []byte) []byte {
	tag := tagFull
	if partial {
		tag = tagPartial
	}
	buf = t.AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, ' ')
	buf = append(buf, stream...)
	buf = append(buf, ' ')
	buf = append(buf, tag...)
	buf = append(buf, ' ')
	buf = append(buf, text...)
	return append(buf, '\n')
}

func checkStream(stream string) error {
	if stream != Stdout && stream != Stderr {
		return fmt.Errorf("CRI log stream %q: want %q or %q", stream, Stdout, Stderr)
	}
	return nil
}

// WriteLogLine writes line to w as CRI log records of stream at time t, in a single Write so that
// writers sharing an O_APPEND file do not interleave. Each newline-terminated piece becomes a full
// (F) record without its newline; a trailing piece without a newline becomes a partial (P) record.
func WriteLogLine(w io.Writer, stream string, t time.Time, line []byte) error {
	if err := checkStream(stream); err != nil {
		return err
	}
	buf, rest := appendLines(nil, stream, t, line)
	if len(rest) > 0 {
		buf = appendLogRecord(buf, stream, t, true, rest)
	}
	if len(buf) == 0 {
		return nil
	}
	_, err := w.Write(buf)
	return err
}

// appendLines appends a full record for every newline-terminated line of p and returns the rest.
func appendLines(buf []byte, stream string, t time.Time, p []byte) ([]byte, []byte) {
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			return buf, p
		}
		buf = appendLogRecord(buf, stream, t, false, p[:i])
		p = p[i+1:]
	}
}

// sharedLog is the file both streams of a container write to.
type sharedLog struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

// LogWriter turns one output stream of a process into CRI log records. It holds back an
// unterminated line until its newline arrives, MaxLogLineSize bytes accumulate (written as a
// partial record), or Close. Both writers from NewLogWriters may be used concurrently.
type LogWriter struct {
	log     *sharedLog
	stream  string
	pending []byte
}

// NewLogWriters returns the writers for a container's stdout and stderr, sharing w. Every record
// reaches w in one Write call, so records never interleave.
func NewLogWriters(w io.Writer) (stdout, stderr *LogWriter) {
	l := &sharedLog{w: w, now: func() time.Time { return time.Now().UTC() }}
	return &LogWriter{log: l, stream: Stdout}, &LogWriter{log: l, stream: Stderr}
}

// Write records p; n is len(p) unless the underlying writer failed.
func (lw *LogWriter) Write(p []byte) (int, error) {
	lw.log.mu.Lock()
	defer lw.log.mu.Unlock()
	n, t := len(p), lw.log.now()
	var buf []byte
	if len(lw.pending) > 0 {
		// Complete the held-back line first, without copying all of p behind it.
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			lw.pending = append(lw.pending, p...)
			return n, lw.flushLong(t)
		}
		buf = appendLogRecord(buf, lw.stream, t, false, append(lw.pending, p[:i]...))
		lw.pending = lw.pending[:0]
		p = p[i+1:]
	}
	buf, rest := appendLines(buf, lw.stream, t, p)
	for len(rest) >= MaxLogLineSize {
		buf = appendLogRecord(buf, lw.stream, t, true, rest[:MaxLogLineSize])
		rest = rest[MaxLogLineSize:]
	}
	lw.pending = append(lw.pending, rest...)
	if len(buf) > 0 {
		if _, err := lw.log.w.Write(buf); err != nil {
			return 0, fmt.Errorf("write %s log: %w", lw.stream, err)
		}
	}
	return n, nil
}

// flushLong writes full-size partial records while the held-back line is too long.
func (lw *LogWriter) flushLong(t time.Time) error {
	var buf []byte
	n := 0
	for len(lw.pending)-n >= MaxLogLineSize {
		buf = appendLogRecord(buf, lw.stream, t, true, lw.pending[n:n+MaxLogLineSize])
		n += MaxLogLineSize
	}
	if n == 0 {
		return nil
	}
	lw.pending = lw.pending[:copy(lw.pending, lw.pending[n:])]
	if _, err := lw.log.w.Write(buf); err != nil {
		return fmt.Errorf("write %s log: %w", lw.stream, err)
	}
	return nil
}

// Close writes a held-back unterminated line as a partial record: the process never ended it.
// It does not close the underlying writer.
func (lw *LogWriter) Close() error {
	lw.log.mu.Lock()
	defer lw.log.mu.Unlock()
	if len(lw.pending) == 0 {
		return nil
	}
	buf := appendLogRecord(nil, lw.stream, lw.log.now(), true, lw.pending)
	lw.pending = lw.pending[:0]
	if _, err := lw.log.w.Write(buf); err != nil {
		return fmt.Errorf("write %s log: %w", lw.stream, err)
	}
	return nil
}
