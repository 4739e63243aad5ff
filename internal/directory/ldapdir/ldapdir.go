// Package ldapdir is the directory backend that reads an LDAP server or
// Active Directory (interfaces.md section 1, [directory] backend =
// "ldap"; issue 8; exchange-semantics.md section 7): recipients are found
// by their proxy addresses (proxyAddresses, or waypostProxyAddress with
// the schema in packaging/ldap), mail and legacyExchangeDN; users are
// authenticated by binding as them. Connections are pooled and re-dialled
// when they break; answers are cached for a short, configurable time, "not
// found" for a shorter one. Every value put into a search filter is
// escaped (RFC 4515 section 3), and values that carry
// filter characters are logged as possible injection attempts. A server
// that cannot be asked makes every call fail with an error wrapping
// directory.ErrUnavailable, which defers mail (4.4.3) instead of bouncing
// it.
package ldapdir

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/directory"
)

// Dir is an LDAP directory. It implements directory.Directory.
type Dir struct {
	cfg    config.LDAP
	a      config.LDAPAttributes
	bindPW string
	tls    *tls.Config
	log    *slog.Logger

	slots chan struct{}   // one per connection in use: at most PoolSize
	idle  chan *ldap.Conn // connections bound as the service account, ready

	cache *cache

	typesMu      sync.Mutex
	types        []string
	typesVersion string
	typesAt      time.Time
}

var _ directory.Directory = (*Dir)(nil)

// Open prepares the directory: it reads the service account's password
// and the CA file, and tries one connection. A server that cannot be
// reached is logged, not an error: the hub starts, and mail waits until
// the server answers.
func Open(cfg *config.LDAP, log *slog.Logger) (*Dir, error) {
	d := &Dir{cfg: *cfg, a: cfg.Attributes, log: log,
		slots: make(chan struct{}, cfg.PoolSize), idle: make(chan *ldap.Conn, cfg.PoolSize),
		cache: newCache(cfg.Cache, cfg.NegativeCache)}
	if cfg.BindPasswordFile != "" {
		b, err := os.ReadFile(cfg.BindPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("LDAP bind password: %w", err)
		}
		d.bindPW = strings.TrimRight(strings.SplitN(string(b), "\n", 2)[0], "\r")
		if d.bindPW == "" {
			return nil, fmt.Errorf("LDAP bind password file %s is empty", cfg.BindPasswordFile)
		}
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("LDAP url %q: %w", cfg.URL, err)
	}
	host, _, _ := net.SplitHostPort(u.Host)
	d.tls = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if cfg.ServerName != "" {
		d.tls.ServerName = cfg.ServerName
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("LDAP CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("LDAP CA file %s has no PEM certificate", cfg.CAFile)
		}
		d.tls.RootCAs = pool
	}
	c, err := d.dial(true)
	if err != nil {
		log.Warn("LDAP directory not reachable yet; mail for its recipients waits (4.4.3) until it is", "url", cfg.URL, "err", err)
	} else {
		d.idle <- c
	}
	return d, nil
}

// Close closes the idle connections.
func (d *Dir) Close() error {
	for {
		select {
		case c := <-d.idle:
			c.Close()
		default:
			return nil
		}
	}
}

// dial opens a connection (TLS for ldaps://, StartTLS when asked) and, with
// service true, binds as the service account.
func (d *Dir) dial(service bool) (*ldap.Conn, error) {
	c, err := ldap.DialURL(d.cfg.URL, ldap.DialWithDialer(&net.Dialer{Timeout: d.cfg.Timeout}), ldap.DialWithTLSConfig(d.tls))
	if err != nil {
		return nil, err
	}
	c.SetTimeout(d.cfg.Timeout)
	if d.cfg.StartTLS {
		if err := c.StartTLS(d.tls); err != nil {
			c.Close()
			return nil, fmt.Errorf("StartTLS: %w", err)
		}
	}
	if service && d.cfg.BindDN != "" {
		if err := c.Bind(d.cfg.BindDN, d.bindPW); err != nil {
			c.Close()
			return nil, fmt.Errorf("binding as %s: %w", d.cfg.BindDN, err)
		}
	}
	return c, nil
}

// with runs f on a pooled connection. When f fails because the connection
// broke (the server restarted, a network glitch), it runs once more on a
// new connection; a second failure, or any failure to connect, is an
// error wrapping directory.ErrUnavailable.
func (d *Dir) with(f func(c *ldap.Conn) error) error {
	select {
	case d.slots <- struct{}{}:
	case <-time.After(d.cfg.Timeout):
		return fmt.Errorf("%w: all %d LDAP connections are busy", directory.ErrUnavailable, d.cfg.PoolSize)
	}
	defer func() { <-d.slots }()
	var last error
	for try := 0; try < 2; try++ {
		c, err := d.take(try > 0)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", directory.ErrUnavailable, d.cfg.URL, err)
		}
		err = f(c)
		if err == nil || !broken(err) {
			d.give(c)
			if err != nil {
				return fmt.Errorf("%w: %s: %v", directory.ErrUnavailable, d.cfg.URL, err)
			}
			return nil
		}
		c.Close()
		last = err
	}
	return fmt.Errorf("%w: %s: %v", directory.ErrUnavailable, d.cfg.URL, last)
}

// take returns an idle connection, or a new one (always new with fresh).
func (d *Dir) take(fresh bool) (*ldap.Conn, error) {
	for !fresh {
		select {
		case c := <-d.idle:
			if !c.IsClosing() {
				return c, nil
			}
			c.Close()
			continue
		default:
		}
		break
	}
	return d.dial(true)
}

func (d *Dir) give(c *ldap.Conn) {
	select {
	case d.idle <- c:
	default:
		c.Close()
	}
}

// broken reports whether err means the connection is no longer usable.
func broken(err error) bool {
	var le *ldap.Error
	if errors.As(err, &le) {
		switch le.ResultCode {
		case ldap.ErrorNetwork, ldap.LDAPResultServerDown, ldap.LDAPResultUnavailable, ldap.LDAPResultBusy,
			ldap.LDAPResultTimeout, ldap.ErrorUnexpectedResponse, ldap.LDAPResultConnectError:
			return true
		}
		return false
	}
	return true
}
