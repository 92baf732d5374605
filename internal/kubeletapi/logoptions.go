package kubeletapi

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// logOptions are the query parameters of /containerLogs, those of v1.PodLogOptions.
type logOptions struct {
	follow, previous, timestamps bool
	tailLines                    int64 // < 0: all
	limitBytes                   int64 // 0: no limit
	since                        time.Time
	stdout, stderr               bool
}

// parseLogOptions reads the parameters the API server passes, with the API's validation.
func parseLogOptions(q url.Values, now time.Time) (logOptions, error) {
	o := logOptions{tailLines: -1, stdout: true, stderr: true}
	var errs []error
	o.follow = boolParam(q, "follow")
	o.previous = boolParam(q, "previous")
	o.timestamps = boolParam(q, "timestamps")

	tail := q.Get("tailLines")
	if tail == "" && q.Get("tail") != "all" {
		tail = q.Get("tail") // the parameter's old name, where "all" meant no limit
	}
	if v, ok, err := intParam("tailLines", tail); err != nil {
		errs = append(errs, err)
	} else if ok {
		if v < 0 {
			errs = append(errs, fmt.Errorf("tailLines %d: must not be negative", v))
		}
		o.tailLines = v
	}
	if v, ok, err := intParam("limitBytes", q.Get("limitBytes")); err != nil {
		errs = append(errs, err)
	} else if ok {
		if v < 1 {
			errs = append(errs, fmt.Errorf("limitBytes %d: must be greater than 0", v))
		}
		o.limitBytes = v
	}
	sinceSeconds, hasSinceSeconds, err := intParam("sinceSeconds", q.Get("sinceSeconds"))
	switch {
	case err != nil:
		errs = append(errs, err)
	case hasSinceSeconds && sinceSeconds < 1:
		errs = append(errs, fmt.Errorf("sinceSeconds %d: must be greater than 0", sinceSeconds))
	case hasSinceSeconds:
		o.since = now.Add(-time.Duration(sinceSeconds) * time.Second)
	}
	if v := q.Get("sinceTime"); v != "" {
		// The API server sends whole seconds; Go's RFC 3339 parser also takes fractions.
		t, err := time.Parse(time.RFC3339, v)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("sinceTime %q: %w", v, err))
		case hasSinceSeconds:
			errs = append(errs, errors.New("at most one of sinceTime and sinceSeconds may be given"))
		default:
			o.since = t
		}
	}
	switch s := q.Get("stream"); s {
	case "", "All":
	case "Stdout":
		o.stderr = false
	case "Stderr":
		o.stdout = false
	default:
		errs = append(errs, fmt.Errorf("stream %q: want All, Stdout or Stderr", s))
	}
	return o, errors.Join(errs...)
}

// boolParam follows the API's query conversion: present with any value but "0" or "false" is true.
func boolParam(q url.Values, name string) bool {
	v, ok := q[name]
	if !ok || len(v) == 0 {
		return false
	}
	return v[0] != "0" && !strings.EqualFold(v[0], "false")
}

func intParam(name, v string) (int64, bool, error) {
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%s %q: not an integer", name, v)
	}
	return n, true, nil
}
