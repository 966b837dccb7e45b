// weft-libcni-client: one CNI operation on a conflist through the reference libcni, as a container
// runtime (containerd, CRI-O) performs it. Built in GOPATH mode against Debian's
// golang-github-appc-cni-dev sources by test/libcni/client.ts.
//
//	weft-libcni-client add|check|del <conflist> <container-id> <netns-path> <ifname>
//	weft-libcni-client version
//
// CNI_PATH (colon-separated) names the plugin directories, WEFT_LIBCNI_CACHE libcni's cache
// directory (never the host's /var/lib/cni). ADD prints the result as JSON; any failure prints
// the error on stderr and exits 1.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/version"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 1 && args[0] == "version" {
		return printVersions()
	}
	if len(args) != 5 {
		return fmt.Errorf("usage: weft-libcni-client add|check|del <conflist> <container-id> <netns-path> <ifname>")
	}
	cacheDir := os.Getenv("WEFT_LIBCNI_CACHE")
	if cacheDir == "" {
		return fmt.Errorf("WEFT_LIBCNI_CACHE is not set: give libcni a cache directory of the test's own")
	}
	list, err := libcni.ConfListFromFile(args[1])
	if err != nil {
		return err
	}
	cni := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(os.Getenv("CNI_PATH")), cacheDir, nil)
	rt := &libcni.RuntimeConf{ContainerID: args[2], NetNS: args[3], IfName: args[4]}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	switch args[0] {
	case "add":
		result, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			return err
		}
		return result.PrintTo(os.Stdout)
	case "check":
		return cni.CheckNetworkList(ctx, list, rt)
	case "del":
		return cni.DelNetworkList(ctx, list, rt)
	}
	return fmt.Errorf("unknown operation %q", args[0])
}

// printVersions prints the spec versions this libcni speaks, as JSON: the test runs each of them.
func printVersions() error {
	out, err := json.Marshal(map[string]interface{}{"current": version.Current(), "supported": version.All.SupportedVersions()})
	if err != nil {
		return err
	}
	_, err = fmt.Println(string(out))
	return err
}
