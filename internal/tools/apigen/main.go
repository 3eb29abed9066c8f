// Command apigen generates a Go wire package from a botocore service model:
// types for every shape the selected operations reach, validators for every
// model constraint, the operation table the protocol layer serves and a
// Service interface with a not-implemented fallback.
//
// Usage (from a //go:generate line):
//
//	go run ../../tools/apigen -service cleanrooms -version 2022-02-17 -pkg cleanroomsapi
//
// The model is found in $BOTOCORE_DATA or in the botocore package that python3
// imports, unless -model names the file. Documentation strings of the model
// are not copied into the output.
package main

import (
	"flag"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	var (
		modelPath = flag.String("model", "", "path to service-2.json(.gz); found via botocore when empty")
		service   = flag.String("service", "", "botocore service name, e.g. cleanrooms")
		version   = flag.String("version", "", "API version, e.g. 2022-02-17")
		pkg       = flag.String("pkg", "", "Go package name to write")
		out       = flag.String("out", ".", "output directory")
		opsFlag   = flag.String("ops", "", "comma-separated operations to include (default: all)")
	)
	flag.Parse()
	if err := run(*modelPath, *service, *version, *pkg, *out, *opsFlag); err != nil {
		fmt.Fprintln(os.Stderr, "apigen:", err)
		os.Exit(1)
	}
}

func run(modelPath, service, version, pkg, out, opsFlag string) error {
	if service == "" || version == "" || pkg == "" {
		return fmt.Errorf("-service, -version and -pkg are required")
	}
	if modelPath == "" {
		p, err := findModel(service, version)
		if err != nil {
			return err
		}
		modelPath = p
	}
	m, err := loadModel(modelPath)
	if err != nil {
		return err
	}
	if err := applyPatches(m, service); err != nil {
		return err
	}
	var names []string
	if opsFlag != "" {
		names = strings.Split(opsFlag, ",")
	}
	ops, err := m.selectOperations(names)
	if err != nil {
		return err
	}
	g := newGenerator(m, pkg, service, version, ops)
	files, err := g.generate()
	if err != nil {
		return err
	}
	for name, src := range files {
		formatted, err := format.Source(src)
		if err != nil {
			return fmt.Errorf("formatting %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(out, name), formatted, 0o644); err != nil {
			return err
		}
	}
	return nil
}
