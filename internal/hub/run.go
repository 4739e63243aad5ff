package hub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waypost/waypost/internal/api"
	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/control"
	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/durable"
	"github.com/waypost/waypost/internal/loginlimit"
	"github.com/waypost/waypost/internal/metrics"
	"github.com/waypost/waypost/internal/mtasts"
	"github.com/waypost/waypost/internal/pickup"
	"github.com/waypost/waypost/internal/queue"
	"github.com/waypost/waypost/internal/reload"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/scheduler"
	"github.com/waypost/waypost/internal/smtpd"
	"github.com/waypost/waypost/internal/tracking"
)

// Hub is one running server.
type Hub struct {
	org    *config.Org
	server *config.Server
	engine atomic.Pointer[routing.Engine]
	queue  *queue.Store
	track  *tracking.Log
	sched  *scheduler.Scheduler
	log    *slog.Logger
	recv   []*smtpd.Listener
	lns    []net.Listener
	secret []byte         // the organization's hub secret, nil without one
	pool   *delivery.Pool // SMTP connections kept between messages, shared by every SMTP agent
	// stoppedCleanly: Run ended with every session done and the
	// scheduler started; close then tells the next start (CloseClean).
	stoppedCleanly bool
	// maildir holds the mailboxes of this server (the API reads them;
	// Dovecot's LMTP writes the same folders, packaging/dovecot/).
	maildir *delivery.Maildir
	// resolver asks the server's dns resolvers ([[server]] dns); nil:
	// the system's. signers holds the DKIM signer of the organization in
	// force (resolver.go).
	resolver *net.Resolver
	signers  atomic.Pointer[signerCache]
	// dns are the resolvers asked, ip:port (nil: resolv.conf's), for the
	// TLSA lookups of DANE; sts keeps the MTA-STS policies of recipient
	// domains, in memory and in the data folder (resolver.go).
	dns     []string
	sts     *mtasts.Cache
	api     *api.Server
	apiLn   net.Listener
	shadows *shadows            // shadow redundancy (shadow.go), nil without a hub secret
	logins  *loginlimit.Limiter // failed logins, shared by SMTP AUTH, the relay login and the API (auth.go)

	// Operations (control.go, metrics.go; reloads through internal/reload).
	ctl      *control.Server
	metrics  *metrics.Metrics
	started  time.Time
	reloader *reload.Reloader
	// Watch is how often Run polls the organization file for changes
	// (0: never; SIGHUP and `waypost reload` still work).
	Watch   time.Duration
	dir     io.Closer           // the directory backend, nil for none
	backend directory.Directory // the same backend, nil for the file's recipients only; kept across reloads
}

// Open prepares server of org: checks its files, opens the queue (recovering
// after a crash), the tracking log and the routing engine, and binds every
// receive connector, so that an error is reported before anything runs.
func Open(org *config.Org, server string, log *slog.Logger) (*Hub, error) {
	s := org.Server(server)
	if s == nil {
		return nil, fmt.Errorf("no server %q in the organization", server)
	}
	if _, err := Validate(org); err != nil { // what `waypost check` and every reload check too
		return nil, err
	}
	// Durable: a new data folder must not vanish in a power cut with the
	// queue in it (docs/architecture.md, "Power cuts").
	if err := durable.MkdirAll(durable.OS, s.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data_dir of %s: %w", s.Name, err)
	}
	dir, dirCloser, err := OpenDirectory(org, s, log)
	if err != nil {
		return nil, err
	}
	backend, _ := dirCloser.(directory.Directory)
	h := &Hub{org: org, server: s, log: log, pool: &delivery.Pool{MaxIdle: scheduler.DefaultWorkers}, dir: dirCloser, backend: backend,
		started: time.Now(), Watch: 500 * time.Millisecond, resolver: newResolver(s.DNS), dns: s.DNS}
	h.sts = &mtasts.Cache{Resolver: h.resolver, Dir: filepath.Join(s.DataDir, "mta-sts"), Log: log}
	h.engine.Store(routing.New(org, dir))
	// The scheduler's index is filled by the queue's recovery, the one
	// reading of the queue's records (internal/scheduler, index.go).
	h.maildir = &delivery.Maildir{Root: filepath.Join(s.DataDir, "mailboxes"), Hostname: s.FQDN}
	h.sched = &scheduler.Scheduler{Server: s.Name, Engine: &h.engine, Log: log,
		Mailbox:   h.mailboxAgent(),
		Connector: h.connector, Relay: h.relay}
	syncMode, err := queue.ParseSync(s.QueueSync)
	if err != nil {
		h.close()
		return nil, fmt.Errorf("server %q: %w", s.Name, err)
	}
	q, rec, err := queue.OpenWith(filepath.Join(s.DataDir, "queue"), queue.Options{Scan: h.sched.Load, Sync: syncMode})
	if err != nil {
		h.close()
		return nil, err
	}
	h.queue = q
	h.sched.Queue = q
	h.sched.CleanStart = rec.Clean
	h.track, err = tracking.Open(filepath.Join(s.DataDir, "tracking.log"), s.Name)
	if err != nil {
		h.close() // the queue and the directory backend
		return nil, err
	}
	log.Info("queue opened", "dir", q.Dir(), "resumed", rec.Resumed, "removed_partial", len(rec.RemovedPartial), "quarantined", len(rec.Quarantined),
		"sync", rec.Sync.String())
	if rec.SyncWhy != "" {
		log.Info("queue sync: file, not filesystem", "why", rec.SyncWhy)
	}
	for _, qf := range rec.Quarantined {
		log.Warn("queue file quarantined", "id", qf.ID, "files", qf.Files, "reason", qf.Reason)
		h.track.Write(tracking.Event{Event: tracking.Quarantine, ID: qf.ID, Detail: qf.Reason})
	}
	h.metrics = metrics.New(s.Name, func() ([]metrics.QueueStat, int, error) { return h.sched.QueueStats() })
	h.logins = h.newLoginLimiter()
	if err := h.openControl(); err != nil {
		h.close()
		return nil, err
	}
	if org.HubSecretFile != "" {
		b, err := os.ReadFile(org.HubSecretFile)
		if err != nil {
			h.close()
			return nil, fmt.Errorf("hub secret: %w", err)
		}
		h.secret = bytes.TrimSpace(b)
		if len(h.secret) == 0 {
			h.close()
			return nil, fmt.Errorf("hub secret %s is empty; run \"waypost secret > %s\"", org.HubSecretFile, org.HubSecretFile)
		}
	}
	h.sched.Track, h.sched.Metrics = h.track, h.metrics
	if err := h.openShadows(); err != nil {
		h.close()
		return nil, err
	}
	h.reloader = &reload.Reloader{Server: s, Engine: &h.engine, Backend: backend, Secret: h.secret, Validate: Validate,
		Metrics: h.metrics, Track: h.sched.TrackEvent, Wake: h.sched.Wake, Log: log}
	h.reloader.Init()
	if s.Relay != "" && h.secret == nil {
		log.Warn("relay listener not started: the organization has no hub_secret_file", "relay", s.Relay)
	}
	if s.Relay != "" && h.secret != nil {
		l, err := smtpd.NewRelay(org, s.Name, h.secret, h.engine.Load, queueAdapter{h}, log)
		if err != nil {
			h.close()
			return nil, err
		}
		l.SetQueueDir(q.Dir()) // MAIL is refused (452 4.3.1) while its file system is nearly full
		l.SetLoginLimiter(h.logins)
		if h.shadows != nil {
			l.SetShadows(h.shadows) // the discharge query, and the copies of other hubs
		}
		ln, err := listenSMTP(s.Relay)
		if err != nil {
			h.close()
			return nil, fmt.Errorf("relay listener: %w", err)
		}
		h.observeListener(l, "relay")
		h.recv, h.lns = append(h.recv, l), append(h.lns, ln)
	}
	for _, rc := range s.Receive {
		l, err := smtpd.New(org, s.Name, rc, h.engine.Load, queueAdapter{h}, Passwords{Engine: &h.engine}, log)
		if err != nil {
			h.close()
			return nil, err
		}
		l.SetQueueDir(q.Dir())
		if rc.MaxAuthFailuresPerIP > 0 {
			l.SetLoginLimiter(h.logins) // else it counts nothing, with a limiter of its own
		}
		l.SetResolver(h.resolver) // the sender checks ask the server's dns
		if h.shadows != nil {
			l.SetShadows(h.shadows) // a copy on another hub before the 250 (shadow_on_receive)
		}
		ln, err := listenSMTP(rc.Listen)
		if err != nil {
			h.close()
			return nil, fmt.Errorf("receive connector %q: %w", rc.Name, err)
		}
		h.observeListener(l, rc.Name)
		h.recv, h.lns = append(h.recv, l), append(h.lns, ln)
	}
	if err := h.openAPI(); err != nil {
		h.close()
		return nil, err
	}
	h.mountMetrics()
	return h, nil
}

// connector returns the agent of a send connector whose delivery is built.
// Mail leaving through a connector of kind smtp is DKIM-signed when its
// From domain has a key (issue 17 item 1); the other kinds stay inside
// the organization's reach or hand the message to a program, unsigned.
func (h *Hub) connector(name string) delivery.Agent {
	org := h.engine.Load().Org()
	for _, sc := range org.SendConnectors {
		if sc.Name != name {
			continue
		}
		switch sc.Delivery.Kind {
		case config.DeliverySMTP:
			return &delivery.SMTP{Hosts: sc.Delivery.SmartHosts, Helo: h.server.FQDN, TLS: sc.Delivery.TLS,
				Encapsulation: sc.Delivery.Encapsulation, DefaultDomain: org.DefaultDomain, Timeout: 5 * time.Minute,
				AuthUsername: sc.Delivery.AuthUsername, AuthPasswordFile: sc.Delivery.AuthPassword, Pool: h.pool,
				Resolver: h.resolver, DKIM: h.dkimSigner(org), DANE: h.daneResolver(org), MTASTS: h.sts, Log: h.log}
		case config.DeliveryDrop:
			return &delivery.Drop{Dir: sc.Delivery.Directory, DefaultDomain: h.engine.Load().Org().DefaultDomain}
		case config.DeliveryPipe:
			return &delivery.Pipe{Command: sc.Delivery.Command, Timeout: sc.Delivery.Timeout, DefaultDomain: h.engine.Load().Org().DefaultDomain}
		case config.DeliveryWebhook:
			return &delivery.Webhook{URL: sc.Delivery.URL, TokenFile: sc.Delivery.TokenFile, Format: sc.Delivery.Format, Timeout: sc.Delivery.Timeout}
		}
	}
	return nil
}

// relay returns the agent that hands mail to the relay listener of
// server, or nil when that is not possible (no hub secret, no such server,
// no relay address, or server is this hub).
func (h *Hub) relay(server string) delivery.Agent {
	peer := h.engine.Load().Org().Server(server)
	if h.secret == nil || peer == nil || peer.Relay == "" || strings.EqualFold(peer.Name, h.server.Name) {
		return nil
	}
	// TLS always, pinned by the hub secret rather than a CA (the Hub
	// branch of delivery.SMTP, package hubauth).
	return &delivery.SMTP{Hosts: []string{peer.Relay}, Helo: h.server.FQDN, TLS: "required", Timeout: 5 * time.Minute,
		DefaultDomain: h.engine.Load().Org().DefaultDomain, Pool: h.pool,
		Hub: &delivery.HubAuth{Server: h.server.Name, Peer: peer.Name, Secret: h.secret, ArrivalHeader: smtpd.ArrivalHeader, ORCPTHeader: smtpd.ORCPTHeader}}
}

// Addrs returns the addresses the receive connectors listen on.
func (h *Hub) Addrs() []string {
	var out []string
	for _, ln := range h.lns {
		out = append(out, ln.Addr().String())
	}
	return out
}

// Run serves until ctx is done, then shuts down cleanly: listeners stop
// taking connections and finish the sessions under way, the scheduler
// finishes the delivery under way, and the queue is closed. Accepted mail
// stays in the queue for the next start.
func (h *Hub) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(h.recv)+1)
	for i, l := range h.recv {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Serve(h.lns[i]); err != nil && !errors.Is(err, net.ErrClosed) {
				errs <- err
			}
		}()
	}
	h.runAPI(errs)
	schedCtx, stopSched := context.WithCancel(context.Background())
	schedDone := make(chan struct{})
	go func() { h.sched.Run(schedCtx); close(schedDone) }()
	pickupDone := make(chan struct{})
	pickups := &pickup.Folders{Server: h.server, Engine: &h.engine, Queue: h.sched, Track: h.track, Log: h.log}
	go func() { pickups.Run(schedCtx); close(pickupDone) }()
	go h.serveControl()
	if h.shadows != nil {
		go h.shadows.watch.Run(schedCtx)
	}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	go h.reloader.Watch(watchCtx, h.Watch)
	h.log.Info("hub running", "server", h.server.Name, "listen", h.Addrs())
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
	}
	h.log.Info("shutting down")
	stopWatch()
	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h.ctl.Close()
	drained := true // every session ended by itself, none cut off
	for _, l := range h.recv {
		if l.Shutdown(shutCtx) != nil {
			drained = false
		}
	}
	drained = h.stopAPI(shutCtx) && drained
	wg.Wait()
	stopSched()
	<-schedDone
	h.sched.Close()
	<-pickupDone
	// Every session has ended, with its RECEIVE events written; if the
	// scheduler wrote those a crash of the last run may have missed, the
	// next start needs none (queue CloseClean). A session cut off after
	// the shutdown's 30 s may still be on its way: not clean then.
	h.stoppedCleanly = drained && h.sched.Started()
	h.close()
	return runErr
}

func (h *Hub) close() {
	for _, ln := range h.lns {
		ln.Close()
	}
	if h.ctl != nil {
		h.ctl.Close()
	}
	if h.apiLn != nil {
		h.apiLn.Close()
	}
	h.pool.Close() // after the scheduler: no delivery is under way
	if h.track != nil {
		h.track.Close()
	}
	if h.shadows != nil {
		h.shadows.done.Close()
	}
	if h.queue != nil && h.stoppedCleanly {
		if err := h.queue.CloseClean(); err != nil {
			h.log.Warn("closing the queue", "err", err)
		}
	} else if h.queue != nil {
		h.queue.Close()
	}
	if h.dir != nil {
		h.dir.Close()
	}
}

// queueAdapter puts what the receiver accepts into the queue.
type queueAdapter struct{ h *Hub }

func (a queueAdapter) Add(env smtpd.Envelope, body io.Reader) (string, error) {
	qe := queue.Envelope{From: env.From, EnvID: env.EnvID, Ret: env.Ret, Arrival: env.Arrival, ReceivedBy: env.Receiver, Auth: env.Auth}
	for _, r := range env.Recipients {
		qe.Recipients = append(qe.Recipients, queue.Recipient{Written: r.Written, Type: r.Decision.Type, Address: r.Decision.Address, ORCPT: r.ORCPT, Notify: r.Notify})
	}
	detail := "via " + env.Receiver
	if env.ShadowOf != "" {
		shadowEnvelope(&qe, env.ShadowOf, time.Now())
		detail += ", a shadow copy of " + env.ShadowOf
	}
	head := &headCapture{}
	// RECEIVE is written once the message is durable and before the
	// scheduler can deliver it: every delivered message's history starts
	// with it.
	m, err := a.h.sched.Add(qe, io.TeeReader(body, head), func(m *queue.Message) {
		msgID := head.messageID()
		for _, r := range qe.Recipients {
			a.h.track.Write(tracking.Event{Event: tracking.Receive, ID: m.ID, MessageID: msgID, Sender: qe.From, Recipient: scheduler.TrackedAs(&r), Detail: detail})
		}
	})
	if err != nil {
		return "", err
	}
	a.h.metrics.Received(env.Receiver)
	if peer, ok := strings.CutPrefix(env.Auth, "hub:"); ok {
		for range qe.Recipients {
			a.h.metrics.Relay("in", peer, "accepted")
		}
	}
	return m.ID, nil
}

// headCapture keeps the start of a message as it streams into the queue,
// so that its Message-ID can go into the tracking log.
type headCapture struct{ b []byte }

const headLimit = 64 << 10

func (h *headCapture) Write(p []byte) (int, error) {
	if room := headLimit - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// messageID returns the Message-ID field of the captured header, or "".
func (h *headCapture) messageID() string {
	end := bytes.Index(h.b, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(h.b)
	}
	for _, line := range strings.Split(string(h.b[:end]), "\r\n") {
		name, value, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(name), "Message-ID") {
			return strings.TrimSpace(value)
		}
	}
	return ""
}

// Reload re-reads the organization file and applies it when it is valid
// (internal/reload). actor names who asked (a user, "signal SIGHUP", "file
// change"). A refused file returns a *control.Error with CodeInvalid
// listing every problem.
func (h *Hub) Reload(actor string) (*control.Reload, error) { return h.reloader.Reload(actor) }

// listenSMTP listens for SMTP sessions on addr without TCP keep-alive:
// the SMTP server times every read itself (smtpd's guard, the receive
// connector's command timeout), and Go's default keep-alive costs four
// setsockopt calls on every accepted connection, most of the system calls
// of a short session after its reads and writes (docs/performance.md).
func listenSMTP(addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	return lc.Listen(context.Background(), "tcp", addr)
}
