// Command kustomize builds one kustomization directory and prints the result as YAML, like
// `kustomize build DIR`. The project carries it because Debian ships no usable kustomize (its
// kubectl is 1.20 with the kustomize of 2019) and a prebuilt binary cannot be downloaded; this
// builds from the Go module proxy like tools/docstore. Usage: kustomize build DIR
package main

import (
	"fmt"
	"os"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "build" {
		args = args[1:]
	}
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: kustomize build DIR")
		os.Exit(2)
	}
	options := krusty.MakeDefaultOptions()
	// As the kustomize CLI does: the kustomization's sortOptions if it has them, else the legacy
	// order (namespaces and ConfigMaps before the workloads that use them).
	options.Reorder = krusty.ReorderOptionUnspecified
	resources, err := krusty.MakeKustomizer(options).Run(filesys.MakeFsOnDisk(), args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "kustomize build %s: %v\n", args[0], err)
		os.Exit(1)
	}
	out, err := resources.AsYaml()
	if err != nil {
		fmt.Fprintf(os.Stderr, "kustomize build %s: rendering YAML: %v\n", args[0], err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
}
