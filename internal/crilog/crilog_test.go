package crilog

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// records renders a CRI log without timestamps, one "stream tag text" per record.
func records(t *testing.T, log string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.SplitAfter(log, "\n") {
		if line == "" {
			continue
		}
		if !strings.HasSuffix(line, "\n") {
			t.Fatalf("record %q lacks its newline", line)
		}
		r, err := ParseRecord([]byte(strings.TrimSuffix(line, "\n")))
		if err != nil {
			t.Fatalf("record %q: %v", line, err)
		}
		tag := tagFull
		if r.Partial {
			tag = tagPartial
		}
		out = append(out, fmt.Sprintf("%s %s %s", r.Stream, tag, r.Text))
	}
	return out
}

func TestLogWriter(t *testing.T) {
	long := strings.Repeat("x", MaxLogLineSize)
	type write struct {
		stream string // Stdout or Stderr; "close" closes both writers
		data   string
	}
	for _, tc := range []struct {
		name   string
		writes []write
		want   []string
	}{
		{"line", []write{{Stdout, "hello\n"}}, []string{"stdout F hello"}},
		{"line in pieces", []write{{Stdout, "hel"}, {Stdout, "lo"}, {Stdout, "\n"}}, []string{"stdout F hello"}},
		{"lines in one write", []write{{Stdout, "a\nb\n\nc\n"}}, []string{"stdout F a", "stdout F b", "stdout F ", "stdout F c"}},
		{"unterminated tail waits", []write{{Stdout, "a\nb"}}, []string{"stdout F a"}},
		{"close writes the tail as partial", []write{{Stdout, "a\nb"}, {"close", ""}}, []string{"stdout F a", "stdout P b"}},
		{"empty write", []write{{Stdout, ""}, {"close", ""}}, nil},
		{"held line completed with more lines", []write{{Stderr, "ab"}, {Stderr, "c\nd\ne"}, {"close", ""}},
			[]string{"stderr F abc", "stderr F d", "stderr P e"}},
		{"streams keep their own tails", []write{{Stdout, "out"}, {Stderr, "err\n"}, {Stdout, "put\n"}},
			[]string{"stderr F err", "stdout F output"}},
		{"too long in one write", []write{{Stdout, long + "yz"}, {Stdout, "\n"}},
			[]string{"stdout P " + long, "stdout F yz"}},
		{"too long across writes", []write{{Stdout, "ab"}, {Stdout, long}, {"close", ""}},
			[]string{"stdout P ab" + long[2:], "stdout P xx"}},
		{"long complete line stays whole", []write{{Stdout, long + "\n"}}, []string{"stdout F " + long}},
		{"carriage return is text", []write{{Stdout, "a\r\n"}}, []string{"stdout F a\r"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			stdout, stderr := NewLogWriters(&buf)
			for _, w := range tc.writes {
				var err error
				switch w.stream {
				case Stdout:
					_, err = stdout.Write([]byte(w.data))
				case Stderr:
					_, err = stderr.Write([]byte(w.data))
				default:
					err = stdout.Close()
					if err == nil {
						err = stderr.Close()
					}
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			got := records(t, buf.String())
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("records:\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestLogWriterConcurrent(t *testing.T) {
	var buf bytes.Buffer
	stdout, stderr := NewLogWriters(&buf)
	const lines = 500
	var wg sync.WaitGroup
	for _, w := range []*LogWriter{stdout, stderr} {
		wg.Go(func() {
			for i := range lines {
				// Split lines across writes so that tails are held back while the other stream writes.
				if _, err := fmt.Fprintf(w, "%s line %d of", w.stream, i); err != nil {
					t.Error(err)
				}
				if _, err := fmt.Fprintf(w, " %d\n", lines); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	next := map[string]int{}
	for _, r := range records(t, buf.String()) {
		var stream, tag string
		var i, n int
		if _, err := fmt.Sscanf(r, "%s %s %s line %d of %d", &stream, &tag, new(string), &i, &n); err != nil {
			t.Fatalf("record %q: %v", r, err)
		}
		if tag != tagFull || i != next[stream] || n != lines {
			t.Fatalf("record %q: want stream line %d, full", r, next[stream])
		}
		next[stream]++
	}
	if next[Stdout] != lines || next[Stderr] != lines {
		t.Errorf("got %v lines, want %d of each", next, lines)
	}
}

func TestWriteLogLine(t *testing.T) {
	at := time.Date(2026, 7, 1, 10, 0, 0, 123000000, time.UTC)
	for _, tc := range []struct {
		stream, line, want string
	}{
		{Stdout, "hello\n", "2026-07-01T10:00:00.123Z stdout F hello\n"},
		{Stderr, "no newline", "2026-07-01T10:00:00.123Z stderr P no newline\n"},
		{Stdout, "a\nb", "2026-07-01T10:00:00.123Z stdout F a\n2026-07-01T10:00:00.123Z stdout P b\n"},
		{Stdout, "\n", "2026-07-01T10:00:00.123Z stdout F \n"},
		{Stdout, "", ""},
	} {
		var buf bytes.Buffer
		if err := WriteLogLine(&buf, tc.stream, at, []byte(tc.line)); err != nil || buf.String() != tc.want {
			t.Errorf("WriteLogLine(%s, %q) wrote %q, %v; want %q", tc.stream, tc.line, buf.String(), err, tc.want)
		}
	}
	if err := WriteLogLine(&bytes.Buffer{}, "stdin", at, []byte("x\n")); err == nil {
		t.Error("WriteLogLine accepted stream stdin")
	}
}

func TestParseLogRecord(t *testing.T) {
	for _, tc := range []struct {
		line    string
		want    Record
		wantErr bool
	}{
		{line: "2026-07-01T10:00:00.5Z stdout F hello world",
			want: Record{Time: time.Date(2026, 7, 1, 10, 0, 0, 5e8, time.UTC), Stream: Stdout, Text: []byte("hello world")}},
		{line: "2026-07-01T12:00:00+02:00 stderr P  two spaces",
			want: Record{Time: time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC), Stream: Stderr, Partial: true, Text: []byte(" two spaces")}},
		{line: "2026-07-01T10:00:00Z stdout F", want: Record{Time: time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC), Stream: Stdout}},
		{line: "2026-07-01T10:00:00Z stdout F ", want: Record{Time: time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC), Stream: Stdout}},
		{line: "2026-07-01T10:00:00Z stdout P:more:tags text",
			want: Record{Time: time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC), Stream: Stdout, Partial: true, Text: []byte("text")}},
		{line: "", wantErr: true},
		{line: "2026-07-01T10:00:00Z", wantErr: true},
		{line: "2026-07-01T10:00:00Z stdout", wantErr: true},
		{line: "yesterday stdout F x", wantErr: true},
		{line: "2026-07-01T10:00:00Z stdin F x", wantErr: true},
		{line: "2026-07-01T10:00:00Z stdout X x", wantErr: true},
		{line: `{"log":"docker json\n","stream":"stdout","time":"2026-07-01T10:00:00Z"}`, wantErr: true},
	} {
		got, err := ParseRecord([]byte(tc.line))
		if tc.wantErr {
			if err == nil {
				t.Errorf("ParseRecord(%q) = %+v, want an error", tc.line, got)
			}
			continue
		}
		if err != nil || !got.Time.Equal(tc.want.Time) || got.Stream != tc.want.Stream ||
			got.Partial != tc.want.Partial || !bytes.Equal(got.Text, tc.want.Text) {
			t.Errorf("ParseRecord(%q) = %+v, %v; want %+v", tc.line, got, err, tc.want)
		}
	}
}

// FuzzParseLogRecord checks that the parser never panics and that what it accepts survives
// being written again.
func FuzzParseLogRecord(f *testing.F) {
	for _, seed := range []string{
		"2026-07-01T10:00:00.123456789Z stdout F hello",
		"2026-07-01T10:00:00Z stderr P part",
		"2026-07-01T10:00:00+01:00 stdout F ",
		"2026-07-01T10:00:00Z stdout F",
		"2026-07-01T10:00:00Z stdout F:x:y tagged",
		"2026-07-01T10:00:00Z stdout X nope",
		"not a record",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := ParseRecord(line)
		if err != nil {
			return
		}
		again := appendLogRecord(nil, r.Stream, r.Time, r.Partial, r.Text)
		r2, err := ParseRecord(again[:len(again)-1])
		if err != nil {
			t.Fatalf("re-encoded %q as %q, which does not parse: %v", line, again, err)
		}
		if !r2.Time.Equal(r.Time) || r2.Stream != r.Stream || r2.Partial != r.Partial || !bytes.Equal(r2.Text, r.Text) {
			t.Fatalf("round trip of %q: %+v became %+v", line, r, r2)
		}
	})
}

// FuzzLogWriter checks that whatever a process writes, in whatever pieces, the records hold
// exactly its output: full records end a line, partial ones do not.
func FuzzLogWriter(f *testing.F) {
	f.Add([]byte("hello\nworld"), uint8(3))
	f.Add([]byte("\n\n\n"), uint8(1))
	f.Add(bytes.Repeat([]byte("x"), MaxLogLineSize+3), uint8(200))
	f.Fuzz(func(t *testing.T, out []byte, piece uint8) {
		var buf bytes.Buffer
		w, _ := NewLogWriters(&buf)
		size := int(piece) + 1
		for rest := out; len(rest) > 0; {
			n := min(size, len(rest))
			if _, err := w.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		var got []byte
		for _, line := range bytes.SplitAfter(buf.Bytes(), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			r, err := ParseRecord(line[:len(line)-1])
			if err != nil {
				t.Fatalf("record %q: %v", line, err)
			}
			if len(r.Text) > MaxLogLineSize && r.Partial {
				t.Fatalf("partial record of %d bytes", len(r.Text))
			}
			got = append(got, r.Text...)
			if !r.Partial {
				got = append(got, '\n')
			}
		}
		if !bytes.Equal(got, out) {
			t.Fatalf("records hold %q, the process wrote %q", got, out)
		}
	})
}
