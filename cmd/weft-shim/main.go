// Command weft-shim stands between the lab's node runtime and each container process:
//
//	weft-shim run --dir DIR --log FILE -- PROGRAM...     parent of one container: log and exit records
//	weft-shim enter --netns PATH --root-spec FILE ... -- PROGRAM...   exec PROGRAM as the container, in a root of its own
//	weft-shim exec --pid PID [--workdir DIR] -- PROGRAM...   exec PROGRAM inside a running container (kubectl exec, probes)
//
// Run under the name "pause" (the pause image's /pause), it sleeps until it is told to stop.
//
// It is a small binary without Kubernetes inside, so that starting a container costs
// milliseconds; the node runtime finds it next to weft.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/weftnet/weft/internal/shim"
)

func main() {
	if filepath.Base(os.Args[0]) == "pause" {
		pause()
	}
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "run":
		fs := flag.NewFlagSet("run", flag.ExitOnError)
		dir := fs.String("dir", "", "directory for the container's start and exit records")
		logPath := fs.String("log", "", "the container's log file, in the CRI log format")
		_ = fs.Parse(os.Args[2:])
		if *dir == "" || *logPath == "" || fs.NArg() == 0 {
			usage()
		}
		err = shim.Run(*dir, *logPath, fs.Args())
	case "enter":
		fs := flag.NewFlagSet("enter", flag.ExitOnError)
		var o shim.EnterOptions
		fs.StringVar(&o.NetNS, "netns", "", "the pod's network namespace file")
		fs.StringVar(&o.RootSpec, "root-spec", "", "file with the container's root file system, as the node runtime describes it")
		fs.StringVar(&o.Hostname, "hostname", "", "the pod's host name")
		fs.BoolVar(&o.HostNetwork, "host-network", false, "the pod uses the node's network and host name")
		_ = fs.Parse(os.Args[2:])
		if o.NetNS == "" || o.RootSpec == "" || fs.NArg() == 0 {
			usage()
		}
		err = shim.Enter(o, fs.Args())
	case "exec":
		fs := flag.NewFlagSet("exec", flag.ExitOnError)
		var o shim.JoinOptions
		fs.IntVar(&o.PID, "pid", 0, "the container's process")
		fs.StringVar(&o.WorkDir, "workdir", "", "the container's working directory")
		fs.BoolVar(&o.BusyboxFallback, "busybox-fallback", false, "run a command the container lacks as a busybox applet")
		_ = fs.Parse(os.Args[2:])
		if o.PID <= 0 || fs.NArg() == 0 {
			usage()
		}
		err = shim.Join(o, fs.Args())
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "weft-shim:", err)
		os.Exit(1)
	}
}

// pause is the pause image's program: it holds the pod's namespaces until SIGTERM or SIGINT.
func pause() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	<-sigs
	os.Exit(0)
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage: weft-shim run --dir DIR --log FILE -- PROGRAM [ARGS...]
       weft-shim enter --netns PATH --root-spec FILE [--hostname NAME] [--host-network] -- PROGRAM [ARGS...]
       weft-shim exec --pid PID [--workdir DIR] [--busybox-fallback] -- PROGRAM [ARGS...]`)
	os.Exit(2)
}
