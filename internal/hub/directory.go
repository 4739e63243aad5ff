package hub

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/directory/embedded"
	"github.com/waypost/waypost/internal/directory/ldapdir"
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
	switch {
	case org.Directory.Backend == config.BackendFile || org.Directory.Backend == "":
		return file, nil, nil
	case org.Directory.Backend == config.BackendEmbedded:
		if s == nil {
			return nil, nil, fmt.Errorf("the embedded directory lives in a server's data folder, and the organization has no server")
		}
		path := filepath.Join(s.DataDir, embedded.FileName)
		st, err := embedded.Open(path, embedded.Options{ReadOnly: true})
		if errors.Is(err, embedded.ErrInUse) {
			return nil, nil, fmt.Errorf("the embedded directory %s is being changed by a \"waypost directory\" command: wait for it to finish, then start the hub again", path)
		}
		if err != nil {
			return nil, nil, err
		}
		log.Info("directory opened", "backend", "embedded", "file", path, "file_recipients", len(org.Recipients))
		return directory.Combine(file, st), st, nil
	case org.Directory.Backend == config.BackendLDAP:
		ld, err := ldapdir.Open(org.Directory.LDAP, log)
		if err != nil {
			return nil, nil, err
		}
		log.Info("directory opened", "backend", "ldap", "url", org.Directory.LDAP.URL, "base_dn", org.Directory.LDAP.BaseDN, "file_recipients", len(org.Recipients))
		return directory.Combine(file, ld), ld, nil
	}
	return nil, nil, fmt.Errorf("directory backend %q is not available", org.Directory.Backend)
}
