// Command weft-shim stands between the lab's node runtime and each container process:
//
//	weft-shim run --dir DIR --log FILE -- PROGRAM...     parent of one container: log and exit records
//	weft-shim enter --netns PATH --pod-files DIR ... -- PROGRAM...   exec PROGRAM inside the pod
//
// It is a small binary without Kubernetes inside, so that starting a container costs
// milliseconds; the node runtime finds it next to weft.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/weftnet/weft/internal/shim"
)

func main() {
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
		fs.StringVar(&o.PodFiles, "pod-files", "", "directory with the pod's hosts, hostname and resolv.conf")
		fs.StringVar(&o.Hostname, "hostname", "", "the pod's host name")
		fs.StringVar(&o.WorkDir, "workdir", "", "the container's working directory")
		fs.BoolVar(&o.HostNetwork, "host-network", false, "the pod uses the node's network and host name")
		_ = fs.Parse(os.Args[2:])
		if o.NetNS == "" || o.PodFiles == "" || fs.NArg() == 0 {
			usage()
		}
		err = shim.Enter(o, fs.Args())
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "weft-shim:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: weft-shim run --dir DIR --log FILE -- PROGRAM [ARGS...]\n       weft-shim enter --netns PATH --pod-files DIR [--hostname NAME] [--workdir DIR] [--host-network] -- PROGRAM [ARGS...]")
	os.Exit(2)
}
