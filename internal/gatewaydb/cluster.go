// Package gatewaydb runs a throw-away PostgreSQL server holding the Rack
// Gateway's audit table (schema audit, table audit_event, its constraints,
// triggers refusing UPDATE and DELETE, the roles audit_owner, audit_writer
// and audit_reader) and appends rows to it the way the gateway does: under a
// transaction-scoped advisory lock, the next chain_index, the previous row's
// hash, an HMAC-SHA256 computed in Go. It is for tests and the benchmark;
// it does not import testing (TB is the little it needs of a test).
//
// The server runs as an unprivileged user (the postgres system user when
// the caller is root), from a temporary directory, on a free loopback port
// and a unix socket in that directory. A guard process stops it and removes
// the directory should the calling process die without doing so (a panic, a
// test binary's timeout).
package gatewaydb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Passwords of the login roles the cluster creates (test fixtures, not secrets).
const (
	GatewayPassword  = "gateway-test-pw"
	AuditfwdPassword = "auditfwd-test-Pw-7f3a"
)

// EnvBin names a directory holding initdb and postgres, overriding the search.
const EnvBin = "AUDITFWD_PG_BIN"

const template = "gateway_template"

// Cluster is one running (or stopped) PostgreSQL server.
type Cluster struct {
	Root    string // the temporary directory: data, socket, server log
	Port    int
	bin     string
	cred    *syscall.Credential // nil: run as this process's user
	version int                 // server major version

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	guard  *exec.Cmd
	dbs    int
}

// Start creates a cluster in a new temporary directory, starts it, and
// creates the gateway's roles and a template database with its schema.
func Start() (*Cluster, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin}
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("gatewaydb: running as root needs the postgres system user (Debian's postgresql package creates it): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if c.Root, err = os.MkdirTemp("", "auditfwd-pg-"); err != nil {
		return nil, err
	}
	if c.cred != nil {
		if err := os.Chown(c.Root, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			os.RemoveAll(c.Root)
			return nil, err
		}
	}
	ok := false
	defer func() {
		if !ok {
			c.Close()
		}
	}()
	initdb := c.command(filepath.Join(bin, "initdb"), "-D", c.dataDir(), "-U", "postgres", "-E", "UTF8", "--locale=C",
		"--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "--no-instructions")
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("gatewaydb: initdb: %v\n%s", err, out)
	}
	if err := c.StartServer(); err != nil {
		return nil, err
	}
	if err := c.setUp(); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

// findBin finds the directory of the newest installed PostgreSQL server.
func findBin() (string, error) {
	if dir := os.Getenv(EnvBin); dir != "" {
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("gatewaydb: no PostgreSQL server installed (no /usr/lib/postgresql/*/bin/initdb): `apt-get install postgresql`, which scripts/test-deps.sh (make test) does, or set " + EnvBin)
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func (c *Cluster) dataDir() string { return filepath.Join(c.Root, "data") }

// LogPath is the server's log file.
func (c *Cluster) LogPath() string { return filepath.Join(c.Root, "server.log") }

func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = c.Root
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Setpgid: true}
	// Keep the caller's PG* variables from steering the server tools.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	return cmd
}

// StartServer starts the server (again, after StopServer) and waits until
// it accepts connections. The first start picks a free port; later ones
// keep it.
func (c *Cluster) StartServer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil {
		return errors.New("gatewaydb: already running")
	}
	first := c.version == 0
	for try := 0; ; try++ {
		if c.Port == 0 || first && try > 0 {
			port, err := freePort()
			if err != nil {
				return err
			}
			c.Port = port
		}
		// A first start may lose its port to another process; a restart
		// keeps its port (clients know it).
		err := c.startLocked()
		if err == nil || !first || try == 4 {
			return err
		}
	}
}

func (c *Cluster) startLocked() error {
	logf, err := os.OpenFile(c.LogPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := c.command(filepath.Join(c.bin, "postgres"), "-D", c.dataDir(), "-p", strconv.Itoa(c.Port), "-k", c.Root,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "shared_buffers=16MB", "-c", "max_connections=60", "-c", "log_min_messages=warning",
		"-c", "log_connections=off", "-c", "logging_collector=off", "-c", "max_wal_size=256MB")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("gatewaydb: start postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	// The guard stops the server and removes the directory once this
	// process is gone, whatever killed it.
	guard := exec.Command("sh", "-c", `while [ -d /proc/$1 ]; do sleep 1; done; kill -INT $2 2>/dev/null; sleep 5; kill -KILL $2 2>/dev/null; rm -rf "$3"`,
		"gatewaydb-guard", strconv.Itoa(os.Getpid()), strconv.Itoa(cmd.Process.Pid), c.Root)
	guard.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := guard.Start(); err != nil {
		cmd.Process.Kill()
		<-exited
		return fmt.Errorf("gatewaydb: start guard: %w", err)
	}
	go guard.Wait()
	c.cmd, c.exited, c.guard = cmd, exited, guard

	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, c.adminDSN("postgres"))
		if err == nil {
			var v int
			err = conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int / 10000").Scan(&v)
			conn.Close(ctx)
			cancel()
			if err == nil {
				c.version = v
				return nil
			}
		}
		cancel()
		select {
		case <-exited:
			c.stopGuardLocked()
			c.cmd = nil
			return fmt.Errorf("gatewaydb: postgres exited at start: %s", c.logTail())
		default:
		}
		if time.Now().After(deadline) {
			c.stopLocked()
			return fmt.Errorf("gatewaydb: postgres did not accept connections within 60 s: %v; %s", err, c.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *Cluster) logTail() string {
	data, _ := os.ReadFile(c.LogPath())
	if len(data) > 2000 {
		data = data[len(data)-2000:]
	}
	return "server log: " + string(data)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StopServer stops the server the way an operator's `pg_ctl stop` does (a
// fast shutdown: sessions are ended, their locks released) and keeps its
// data; StartServer starts it again.
func (c *Cluster) StopServer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopLocked()
}

func (c *Cluster) stopLocked() error {
	if c.cmd == nil {
		return nil
	}
	c.stopGuardLocked()
	c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
	c.cmd = nil
	return nil
}

func (c *Cluster) stopGuardLocked() {
	if c.guard != nil {
		syscall.Kill(-c.guard.Process.Pid, syscall.SIGKILL) // the shell and its sleep
		c.guard = nil
	}
}

// Close stops the server and removes its directory.
func (c *Cluster) Close() {
	c.StopServer()
	if c.Root != "" {
		os.RemoveAll(c.Root)
	}
}

// AdminDSN is the superuser's connection string for database db, over the
// unix socket.
func (c *Cluster) adminDSN(db string) string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=disable", c.Root, c.Port, db)
}

// AdminDSN is the superuser's connection string for database db (unix socket).
func (c *Cluster) AdminDSN(db string) string { return c.adminDSN(db) }

// DSN is a password connection string over TCP for role in database db, as
// an operator writes it into auditfwd's dsn_file.
func (c *Cluster) DSN(role, password, db string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", role, password, c.Port, db)
}

// AuditfwdDSN is the DSN of the auditfwd role (a member of audit_reader) for db.
func (c *Cluster) AuditfwdDSN(db string) string { return c.DSN("auditfwd", AuditfwdPassword, db) }

// Admin connects as the superuser to database db.
func (c *Cluster) Admin(ctx context.Context, db string) (*pgx.Conn, error) {
	return pgx.Connect(ctx, c.adminDSN(db))
}

// Exec runs SQL as the superuser in database db.
func (c *Cluster) Exec(ctx context.Context, db, sql string, args ...any) error {
	conn, err := c.Admin(ctx, db)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("gatewaydb: %w", err)
	}
	return nil
}

// CreateDatabase makes a new database holding the gateway's schema (a copy
// of the template) and returns its name. The auditfwd role may create its
// own schema there only when createSchema is true (GRANT CREATE ON
// DATABASE); otherwise the state schema named schema is created for it, owned
// by it, as the set-up guide tells an operator to do. schema "" creates none.
func (c *Cluster) CreateDatabase(ctx context.Context, prefix string, schema string, createSchema bool) (string, error) {
	c.mu.Lock()
	c.dbs++
	name := fmt.Sprintf("%s_%d", sanitize(prefix), c.dbs)
	c.mu.Unlock()
	strategy := ""
	if c.version >= 15 {
		strategy = " STRATEGY = FILE_COPY" // much faster than WAL_LOG for a small database
	}
	if err := c.Exec(ctx, "postgres", "CREATE DATABASE "+name+" TEMPLATE "+template+strategy); err != nil {
		return "", err
	}
	if createSchema {
		if err := c.Exec(ctx, name, "GRANT CREATE ON DATABASE "+name+" TO auditfwd"); err != nil {
			return "", err
		}
	} else if schema != "" {
		if err := c.Exec(ctx, name, "CREATE SCHEMA "+schema+" AUTHORIZATION auditfwd"); err != nil {
			return "", err
		}
	}
	return name, nil
}

// DropDatabase removes db, ending its sessions first.
func (c *Cluster) DropDatabase(ctx context.Context, db string) error {
	return c.Exec(ctx, "postgres", "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	if b.Len() == 0 || b.String()[0] >= '0' && b.String()[0] <= '9' {
		return "db_" + b.String()
	}
	return b.String()
}

// TB is what DB needs of a test.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
	Name() string
}

// DB creates a database for the test (the state schema "auditfwd" created
// for the auditfwd role) and drops it when the test ends.
func (c *Cluster) DB(t TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name, err := c.CreateDatabase(ctx, t.Name(), "auditfwd", false)
	if err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c.DropDatabase(ctx, name)
	})
	return name
}

// Lazy starts one Cluster on first use, shared by a test package; its
// TestMain calls Close after the tests.
type Lazy struct {
	once sync.Once
	c    *Cluster
	err  error
}

// Get starts the cluster the first time.
func (l *Lazy) Get(t TB) *Cluster {
	t.Helper()
	l.once.Do(func() { l.c, l.err = Start() })
	if l.err != nil {
		t.Fatalf("%v", l.err)
	}
	return l.c
}

// Close stops the cluster if it was started.
func (l *Lazy) Close() {
	if l.c != nil {
		l.c.Close()
	}
}

// Main is a test package's TestMain body: run the tests, stop the cluster,
// exit with the tests' code.
func (l *Lazy) Main(m interface{ Run() int }) {
	code := m.Run()
	l.Close()
	os.Exit(code)
}
