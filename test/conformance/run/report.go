package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// spec is one spec's outcome, as the summary tells it.
type spec struct {
	name     string
	state    string // passed, failed, known (a failure the known-failures file names), skipped
	reason   string // why it failed or was skipped; for a known failure, also the file's reason
	duration time.Duration
	selected bool // -focus chose it and -skip did not exclude it
}

type summary struct {
	specs []spec
}

func readReport(path string) ([]types.Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the suite wrote no report: %w", err)
	}
	var r []types.Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("report %s: %w", path, err)
	}
	return r, nil
}

// summarize keeps the specs the run was about: those -focus names. A spec -skip excluded is
// listed as skipped with that as its reason; a spec the suite skipped itself carries the
// suite's own words (a provider it needs, a feature the cluster lacks).
func summarize(reports []types.Report, focus, skip string) summary {
	focusRE := regexp.MustCompile(focus)
	var skipRE *regexp.Regexp
	if skip != "" {
		skipRE = regexp.MustCompile(skip)
	}
	var s summary
	for _, r := range reports {
		for _, sr := range r.SpecReports {
			if sr.LeafNodeType != types.NodeTypeIt {
				continue // suite set-up and tear-down nodes
			}
			name := sr.FullText()
			if !focusRE.MatchString(name) {
				continue
			}
			sp := spec{name: name, duration: sr.RunTime, selected: skipRE == nil || !skipRE.MatchString(name)}
			switch {
			case !sp.selected:
				sp.state, sp.reason = "skipped", "excluded by -skip "+skip
			case sr.State == types.SpecStatePassed:
				sp.state = "passed"
			case sr.State == types.SpecStateSkipped || sr.State == types.SpecStatePending:
				sp.state, sp.reason = "skipped", firstLine(sr.Failure.Message)
				if sp.reason == "" {
					sp.reason = "not run (the suite stopped before it)"
				}
			default:
				sp.state = "failed"
				sp.reason = fmt.Sprintf("%s: %s", sr.State, firstLine(sr.Failure.Message))
				if loc := sr.Failure.Location; loc.FileName != "" {
					sp.reason += fmt.Sprintf(" (%s:%d)", trimModPath(loc.FileName), loc.LineNumber)
				}
			}
			s.specs = append(s.specs, sp)
		}
	}
	sort.Slice(s.specs, func(i, j int) bool { return s.specs[i].name < s.specs[j].name })
	return s
}

func (s summary) count(f func(spec) bool) int {
	n := 0
	for _, sp := range s.specs {
		if f(sp) {
			n++
		}
	}
	return n
}

func (s summary) failed() int { return s.count(func(sp spec) bool { return sp.state == "failed" }) }

// knownFailure is a line of the known-failures file: specs that fail for a reason the file
// states (a feature weft does not have yet). They still run, and are reported under their own
// heading; one that passes is reported too, so the line gets removed.
type knownFailure struct {
	re     *regexp.Regexp
	reason string
}

// readKnownFailures reads "<regular expression> # <reason>" lines; blank lines and lines
// starting with # are comments. A line without a reason is refused: every known failure says why.
func readKnownFailures(path string) ([]knownFailure, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []knownFailure
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		expr, reason, ok := strings.Cut(line, " # ")
		if !ok || strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("%s:%d: give the reason after \" # \": <regular expression> # <why it fails>", path, i+1)
		}
		re, err := regexp.Compile(strings.TrimSpace(expr))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		out = append(out, knownFailure{re: re, reason: strings.TrimSpace(reason)})
	}
	return out, nil
}

// applyKnown marks the failures the file explains, and the specs it names that passed.
func (s *summary) applyKnown(known []knownFailure) {
	for i := range s.specs {
		sp := &s.specs[i]
		for _, k := range known {
			if !k.re.MatchString(sp.name) {
				continue
			}
			switch sp.state {
			case "failed":
				sp.state, sp.reason = "known", k.reason+"; "+sp.reason
			case "passed":
				sp.reason = "listed as a known failure (" + k.reason + ") but passed: remove it from the list"
			}
			break
		}
	}
}

// write prints the summary to w and saves it at path.
func (s summary) write(w io.Writer, path string) error {
	var b strings.Builder
	by := func(state string) int { return s.count(func(sp spec) bool { return sp.state == state }) }
	fmt.Fprintf(&b, "\n%d passed, %d failed, %d skipped\n", by("passed"), by("failed")+by("known"), by("skipped"))
	if n := by("known"); n > 0 {
		fmt.Fprintf(&b, "(%d of the failures are known, each with its reason below)\n", n)
	}
	for _, state := range []string{"failed", "known", "skipped", "passed"} {
		if by(state) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s:\n", headings[state])
		for _, sp := range s.specs {
			if sp.state != state {
				continue
			}
			fmt.Fprintf(&b, "  %s  [%s]\n", sp.name, sp.duration.Round(time.Second))
			if sp.reason != "" {
				fmt.Fprintf(&b, "      %s\n", sp.reason)
			}
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

var headings = map[string]string{
	"failed":  "FAILED",
	"known":   "FAILED, KNOWN (see the known-failures file)",
	"skipped": "SKIPPED",
	"passed":  "PASSED",
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	const max = 300
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

// trimModPath shortens a module cache path to the package path that readers know.
func trimModPath(file string) string {
	const mod = "k8s.io/kubernetes@"
	if i := strings.Index(file, mod); i >= 0 {
		if _, rest, ok := strings.Cut(file[i+len(mod):], "/"); ok {
			return "k8s.io/kubernetes/" + rest
		}
	}
	return file
}
