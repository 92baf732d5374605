package kubeletapi

import (
	"github.com/weftnet/weft/internal/crilog"

	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC)

// writeLog writes text as a CRI log of stdout, one second per line from t0, and returns its path.
func writeLog(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "0.log")
	var buf bytes.Buffer
	for i, line := range strings.SplitAfter(text, "\n") {
		if err := crilog.WriteLogLine(&buf, crilog.Stdout, t0.Add(time.Duration(i)*time.Second), []byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func appendLog(t *testing.T, path, stream, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := crilog.WriteLogLine(f, stream, time.Now(), []byte(line)); err != nil {
		t.Fatal(err)
	}
}

func TestContainerLogs(t *testing.T) {
	p := newTestPKI(t)
	current := writeLog(t, "one\ntwo\nthree\n")
	// A line written in two partial records, and one on stderr.
	mixed := filepath.Join(t.TempDir(), "mixed.log")
	if err := os.WriteFile(mixed, []byte(
		"2026-07-01T10:00:00Z stdout P par\n"+
			"2026-07-01T10:00:01Z stdout F tial\n"+
			"2026-07-01T10:00:02Z stderr F oops\n"+
			"not a record\n"+
			"2026-07-01T10:00:03.5Z stdout F \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pods := &fakePods{logs: map[string]string{
		"default/web/app":          current,
		"default/web/app#previous": writeLog(t, "before the restart\n"),
		"default/mixed/app":        mixed,
		"default/nolog/app":        filepath.Join(t.TempDir(), "missing.log"),
	}}
	base, _ := startServer(t, p, pods, nil)
	c := p.httpClient(t, &p.apiServer)

	for _, tc := range []struct {
		name, path, query string
		wantCode          int
		want              string
	}{
		{"all", "default/web/app", "", 200, "one\ntwo\nthree\n"},
		{"tail", "default/web/app", "tailLines=2", 200, "two\nthree\n"},
		{"tail zero", "default/web/app", "tailLines=0", 200, ""},
		{"tail more than there is", "default/web/app", "tailLines=10", 200, "one\ntwo\nthree\n"},
		{"old tail parameter", "default/web/app", "tail=1", 200, "three\n"},
		{"timestamps", "default/web/app", "timestamps=true&tailLines=1", 200, "2026-07-01T10:00:02Z three\n"},
		{"previous", "default/web/app", "previous=true", 200, "before the restart\n"},
		{"previous does not follow", "default/web/app", "previous=true&follow=true", 200, "before the restart\n"},
		{"limitBytes", "default/web/app", "limitBytes=6", 200, "one\ntw"},
		{"sinceTime", "default/web/app", "sinceTime=2026-07-01T10:00:01Z", 200, "two\nthree\n"},
		{"partial records join", "default/mixed/app", "", 200, "partial\noops\n\n"},
		{"timestamp once per line", "default/mixed/app", "timestamps=1&stream=Stdout", 200,
			"2026-07-01T10:00:00Z partial\n2026-07-01T10:00:03.5Z \n"},
		{"stderr only", "default/mixed/app", "stream=Stderr", 200, "oops\n"},
		{"unknown pod", "default/db/app", "", 404, `container "app" of pod default/db: not found` + "\n"},
		{"no log file", "default/nolog/app", "", 404, "has no log yet"},
		{"negative tail", "default/web/app", "tailLines=-1", 400, "must not be negative"},
		{"both since", "default/web/app", "sinceSeconds=5&sinceTime=2026-07-01T10:00:01Z", 400, "at most one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := base + "/containerLogs/" + tc.path + "?" + tc.query
			code, body := get(t, c, u)
			if code != tc.wantCode {
				t.Fatalf("GET %s = %d %q, want %d", u, code, body, tc.wantCode)
			}
			if tc.wantCode == 200 && body != tc.want || tc.wantCode != 200 && !strings.Contains(body, tc.want) {
				t.Errorf("GET %s body = %q, want %q", u, body, tc.want)
			}
		})
	}
}

func TestContainerLogsFollow(t *testing.T) {
	p := newTestPKI(t)
	path := writeLog(t, "first\n")
	pods := &fakePods{logs: map[string]string{"default/web/app": path}}
	base, _ := startServer(t, p, pods, nil)
	c := p.httpClient(t, &p.apiServer)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/containerLogs/default/web/app?follow=true", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	readLine := func(want string) {
		t.Helper()
		got, err := r.ReadString('\n')
		if err != nil || got != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
	readLine("first\n")
	appendLog(t, path, crilog.Stdout, "sec")
	appendLog(t, path, crilog.Stderr, "third\n")
	appendLog(t, path, crilog.Stdout, "ond\n")
	readLine("secthird\n")
	readLine("ond\n")

	// Once the container has exited, the stream ends after the last lines.
	appendLog(t, path, crilog.Stdout, "last\n")
	pods.exited.Store(true)
	readLine("last\n")
	if rest, err := r.ReadString('\n'); err == nil || rest != "" {
		t.Fatalf("stream went on after the container exited: %q, %v", rest, err)
	}
}

func TestContainerLogsFollowRotation(t *testing.T) {
	p := newTestPKI(t)
	path := writeLog(t, "old\n")
	pods := &fakePods{logs: map[string]string{"default/web/app": path}}
	base, _ := startServer(t, p, pods, nil)
	c := p.httpClient(t, &p.apiServer)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/containerLogs/default/web/app?follow=1", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	if got, err := r.ReadString('\n'); got != "old\n" {
		t.Fatalf("read %q, %v", got, err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendLog(t, path+".1", crilog.Stdout, "late in the old file\n")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	appendLog(t, path, crilog.Stdout, "new\n")
	for _, want := range []string{"late in the old file\n", "new\n"} {
		if got, err := r.ReadString('\n'); got != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
}

func TestParseLogOptions(t *testing.T) {
	now := t0
	for _, tc := range []struct {
		query   string
		want    logOptions
		wantErr string
	}{
		{"", logOptions{tailLines: -1, stdout: true, stderr: true}, ""},
		{"follow&previous=false&timestamps=0", logOptions{follow: true, tailLines: -1, stdout: true, stderr: true}, ""},
		{"tailLines=3&limitBytes=10", logOptions{tailLines: 3, limitBytes: 10, stdout: true, stderr: true}, ""},
		{"tail=all", logOptions{tailLines: -1, stdout: true, stderr: true}, ""},
		{"sinceSeconds=60", logOptions{tailLines: -1, since: now.Add(-time.Minute), stdout: true, stderr: true}, ""},
		{"sinceTime=2026-07-01T09:00:00Z", logOptions{tailLines: -1, since: now.Add(-time.Hour), stdout: true, stderr: true}, ""},
		{"stream=Stdout", logOptions{tailLines: -1, stdout: true}, ""},
		{"tailLines=x", logOptions{}, `tailLines "x": not an integer`},
		{"limitBytes=0", logOptions{}, "limitBytes 0: must be greater than 0"},
		{"sinceSeconds=0", logOptions{}, "sinceSeconds 0: must be greater than 0"},
		{"sinceTime=yesterday", logOptions{}, `sinceTime "yesterday"`},
		{"stream=both", logOptions{}, `stream "both"`},
	} {
		q, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseLogOptions(q, now)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseLogOptions(%q) error = %v, want %q", tc.query, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseLogOptions(%q) = %+v, %v; want %+v", tc.query, got, err, tc.want)
		}
	}
}

func TestTailOffset(t *testing.T) {
	for _, tc := range []struct {
		data string
		n    int64
		want string
	}{
		{"", 3, ""},
		{"a\nb\nc\n", 0, ""},
		{"a\nb\nc\n", 1, "c\n"},
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc\n", 3, "a\nb\nc\n"},
		{"a\nb\nc\n", 4, "a\nb\nc\n"},
		{"a\nb\nc", 1, "c"}, // a record still being written counts
		{"\n\n", 1, "\n"},
	} {
		off, err := tailOffset(strings.NewReader(tc.data), int64(len(tc.data)), tc.n)
		if err != nil || tc.data[off:] != tc.want {
			t.Errorf("tailOffset(%q, %d) = %d (%q), %v; want %q", tc.data, tc.n, off, tc.data[off:], err, tc.want)
		}
	}
	// Across read blocks.
	long := strings.Repeat(strings.Repeat("x", 1000)+"\n", 100)
	off, err := tailOffset(strings.NewReader(long), int64(len(long)), 50)
	if err != nil || off != int64(len(long)/2) {
		t.Errorf("tailOffset over blocks = %d, %v; want %d", off, err, len(long)/2)
	}
}

func TestShutdownEndsFollowedLogs(t *testing.T) {
	p := newTestPKI(t)
	pods := &fakePods{logs: map[string]string{"default/web/app": writeLog(t, "first\n")}}
	base, stop := startServer(t, p, pods, nil)
	resp, err := p.httpClient(t, &p.apiServer).Get(base + "/containerLogs/default/web/app?follow=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	if got, err := r.ReadString('\n'); got != "first\n" {
		t.Fatalf("read %q, %v", got, err)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rest, err := io.ReadAll(r); err != nil || len(rest) != 0 {
		t.Fatalf("after shutdown read %q, %v; want a clean end", rest, err)
	}
}

func TestBadNames(t *testing.T) {
	p := newTestPKI(t)
	base, _ := startServer(t, p, &fakePods{}, nil)
	c := p.httpClient(t, &p.apiServer)
	for _, path := range []string{
		"/containerLogs/default/..%2F..%2Fetc/app",
		"/containerLogs/Default/web/app",
		"/exec/default/web/a%2Fb?command=true&output=1",
	} {
		code, body := get(t, c, base+path)
		if code != http.StatusBadRequest || !strings.Contains(body, "name") {
			t.Errorf("GET %s = %d %q, want 400 naming the bad name", path, code, body)
		}
	}
}
