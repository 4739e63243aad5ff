// Command waypost is the Waypost mail transport: hub server, administration
// tools and cached-mode client in one binary. See internal/cli for the
// commands and docs/architecture.md for how the parts fit.
package main

import (
	"os"

	"github.com/waypost/waypost/internal/cli"
)

func main() {
	os.Exit(cli.Main(&cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}, os.Args[1:]))
}
