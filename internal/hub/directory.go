package hub

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/directory"
)

// OpenDirectory opens the directory of server s: the [[recipient]] entries
// of the organization file in front of the backend that [directory]
// chooses. The closer releases the backend (nil when there is nothing to
// release).
func OpenDirectory(org *config.Org, s *config.Server, log *slog.Logger) (directory.Directory, io.Closer, error) {
	file, err := directory.NewMemory(org.Recipients)
	if err != nil {
		return nil, nil, err
	}
	switch org.Directory.Backend {
	case config.BackendFile, "":
		return file, nil, nil
	}
	return nil, nil, fmt.Errorf("directory backend %q is not available", org.Directory.Backend)
}
