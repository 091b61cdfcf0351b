package ctl

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/authpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/internal/collect"
)

// Names of the etcd users and roles `logctl etcd-auth` creates.
const (
	hostUserPrefix  = "logagent-"       // + the host as given: logagent-10.0.0.7
	OperatorRole    = "logctl-operator" // logctl's role: every collect key, the registrations
	DefaultOperator = "logctl"          // the operator user unless named
	rootUser        = "root"            // etcd's own names, which AuthEnable requires
	rootRole        = "root"
	passwordBytes   = 18 // 24 characters of base64url: 144 random bits
)

// Permission is one key permission of an etcd role: Key alone, or the
// range [Key, RangeEnd) (a prefix when RangeEnd is
// clientv3.GetPrefixRangeEnd(Key)).
type Permission struct {
	Type     authpb.Permission_Type
	Key      string
	RangeEnd string
}

func (p Permission) String() string {
	t := map[authpb.Permission_Type]string{authpb.READ: "read", authpb.WRITE: "write", authpb.READWRITE: "readwrite"}[p.Type]
	switch {
	case p.RangeEnd == "":
		return fmt.Sprintf("%-9s %s", t, p.Key)
	case p.RangeEnd == clientv3.GetPrefixRangeEnd(p.Key):
		return fmt.Sprintf("%-9s %s* (prefix)", t, p.Key)
	}
	return fmt.Sprintf("%-9s [%s, %s)", t, p.Key, p.RangeEnd)
}

// HostPermissions are what the agent of one host needs, and all it gets:
// read its own collect key (Get, Watch, its readiness check) and write its
// own registration key (Put with its lease; etcd lets a user revoke a lease
// only with write access to every key attached, so only its own). The
// agent keeps its last good config in a local file, not in etcd.
func HostPermissions(collectKeyTemplate, ip, hostname string) []Permission {
	return []Permission{
		{Type: authpb.READ, Key: collect.ExpandCollectKey(collectKeyTemplate, ip, hostname)},
		{Type: authpb.WRITE, Key: collect.RegistrationKey(ip)},
	}
}

// OperatorPermissions are logctl's: read and write every collect key (the
// literal prefix of the template, before its first placeholder), read the
// registrations (`logctl agents`, `config --all`, {hostname} keys), and,
// when topicsKey is not empty, read and write logtransfer's topics key,
// where `config set/edit` add the tasks' new topics.
func OperatorPermissions(collectKeyTemplate, topicsKey string) []Permission {
	prefix := collectKeyTemplate
	if i := strings.IndexByte(prefix, '{'); i >= 0 {
		prefix = prefix[:i]
	}
	agents := collect.RegistrationKey("")
	perms := []Permission{{Type: authpb.READWRITE, Key: prefix, RangeEnd: clientv3.GetPrefixRangeEnd(prefix)}}
	if !strings.HasPrefix(agents, prefix) {
		perms = append(perms, Permission{Type: authpb.READ, Key: agents, RangeEnd: clientv3.GetPrefixRangeEnd(agents)})
	}
	if topicsKey != "" && !strings.HasPrefix(topicsKey, prefix) {
		perms = append(perms, Permission{Type: authpb.READWRITE, Key: topicsKey})
	}
	return perms
}

// Identity is an etcd user with its one role, as set up by EtcdAuthAdmin.
type Identity struct {
	User, Role  string
	Permissions []Permission
	// Password is the password generated for a new user (or a rotated
	// one): shown once, stored nowhere. Empty for a certificate user, or
	// when an existing user kept its password.
	Password string
	// Cert: the user has no password and authenticates with a client
	// certificate whose common name (CN) is User (etcd --client-cert-auth).
	Cert    bool
	Created bool // the user did not exist
}

// IdentityOptions choose how a user authenticates.
type IdentityOptions struct {
	Cert   bool // no password: a client certificate with CN = the user name
	Rotate bool // an existing user gets a new generated password
}

// EtcdAuthAdmin creates logcollect's etcd users and roles: one per agent
// host, reaching only that host's keys, and one for operators. It needs
// a client with etcd's root role (or auth still disabled). Every call is
// idempotent: run again, it sets the role's permissions to exactly the
// wanted ones and leaves an existing password alone unless told to rotate
// it.
type EtcdAuthAdmin struct {
	cli       *clientv3.Client
	keyTmpl   string
	topicsKey string
	timeout   time.Duration
}

// NewEtcdAuthAdmin returns an admin using cli, for agents whose
// etcd.collect_key is keyTemplate (collect.DefaultCollectKey when empty).
func NewEtcdAuthAdmin(cli *clientv3.Client, keyTemplate string, timeout time.Duration) *EtcdAuthAdmin {
	if keyTemplate == "" {
		keyTemplate = collect.DefaultCollectKey
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &EtcdAuthAdmin{cli: cli, keyTmpl: keyTemplate, timeout: timeout}
}

// WithTopicsKey gives the operator role read and write on logtransfer's
// topics key, which `logctl config set/edit` update (see
// ConfigStore.WithTopicsKey); "" leaves it out.
func (a *EtcdAuthAdmin) WithTopicsKey(key string) *EtcdAuthAdmin {
	a.topicsKey = key
	return a
}

// HostUser is the etcd user (and role) name of the agent on host.
func HostUser(host string) string { return hostUserPrefix + host }

// Host sets up the identity of the agent on host, given as its IP (the
// registration key is per IP) or its name. ip and hostname complete it:
// the IP is required (host or ip), the name only when the collect key
// template uses {hostname}.
func (a *EtcdAuthAdmin) Host(ctx context.Context, host, ip, hostname string, o IdentityOptions) (Identity, error) {
	if net.ParseIP(host) != nil {
		if ip != "" && ip != host {
			return Identity{}, fmt.Errorf("host %s is an IP and --ip says %s", host, ip)
		}
		ip = host
	} else if hostname == "" {
		hostname = host
	}
	switch {
	case ip == "":
		return Identity{}, fmt.Errorf("host %q is a name: give its IP with --ip (the agent registers under %s)", host, collect.RegistrationKey("IP"))
	case net.ParseIP(ip) == nil:
		return Identity{}, fmt.Errorf("--ip %q: not an IP address", ip)
	case strings.Contains(a.keyTmpl, "{hostname}") && hostname == "":
		return Identity{}, fmt.Errorf("the collect key %s uses {hostname}: give the host's name with --name", a.keyTmpl)
	}
	user := HostUser(host)
	return a.identity(ctx, user, user, HostPermissions(a.keyTmpl, ip, hostname), o)
}

// Operator sets up the operator user for logctl, with OperatorRole.
func (a *EtcdAuthAdmin) Operator(ctx context.Context, user string, o IdentityOptions) (Identity, error) {
	if user == "" {
		user = DefaultOperator
	}
	return a.identity(ctx, user, OperatorRole, OperatorPermissions(a.keyTmpl, a.topicsKey), o)
}

// Enable turns etcd authentication on. etcd needs a user "root" with the
// role root first: when there is none it is created, with a generated
// password returned in the Identity (shown once). Enabling when it is on
// already is not an error.
func (a *EtcdAuthAdmin) Enable(ctx context.Context) (Identity, error) {
	id := Identity{User: rootUser, Role: rootRole}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	_, err := a.cli.UserGet(ctx, rootUser)
	switch {
	case errors.Is(err, rpctypes.ErrUserNotFound):
		if id.Password, err = generatePassword(); err != nil {
			return id, err
		}
		if _, err := a.cli.UserAdd(ctx, rootUser, id.Password); err != nil {
			return id, a.err("add user "+rootUser, err)
		}
		id.Created = true
	case err != nil:
		return id, a.err("get user "+rootUser, err)
	}
	if _, err := a.cli.UserGrantRole(ctx, rootUser, rootRole); err != nil {
		return id, a.err("grant role root to root", err)
	}
	if _, err := a.cli.AuthEnable(ctx); err != nil {
		return id, a.err("enable authentication", err)
	}
	return id, nil
}

func (a *EtcdAuthAdmin) identity(ctx context.Context, user, role string, perms []Permission, o IdentityOptions) (Identity, error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	id := Identity{User: user, Role: role, Permissions: perms, Cert: o.Cert}
	if err := a.setRole(ctx, role, perms); err != nil {
		return id, err
	}
	_, err := a.cli.UserGet(ctx, user)
	switch {
	case errors.Is(err, rpctypes.ErrUserNotFound):
		opts := &clientv3.UserAddOptions{NoPassword: o.Cert}
		if !o.Cert {
			if id.Password, err = generatePassword(); err != nil {
				return id, err
			}
		}
		if _, err := a.cli.UserAddWithOptions(ctx, user, id.Password, opts); err != nil {
			return id, a.err("add user "+user, err)
		}
		id.Created = true
	case err != nil:
		return id, a.err("get user "+user, err)
	case o.Rotate && !o.Cert:
		if id.Password, err = generatePassword(); err != nil {
			return id, err
		}
		if _, err := a.cli.UserChangePassword(ctx, user, id.Password); err != nil {
			return id, a.err("change the password of "+user, err)
		}
	}
	if _, err := a.cli.UserGrantRole(ctx, user, role); err != nil {
		return id, a.err("grant role "+role+" to "+user, err)
	}
	return id, nil
}

// setRole creates role if needed and leaves it with exactly perms.
func (a *EtcdAuthAdmin) setRole(ctx context.Context, role string, perms []Permission) error {
	if _, err := a.cli.RoleAdd(ctx, role); err != nil && !errors.Is(err, rpctypes.ErrRoleAlreadyExist) {
		return a.err("add role "+role, err)
	}
	cur, err := a.cli.RoleGet(ctx, role)
	if err != nil {
		return a.err("get role "+role, err)
	}
	want := make(map[[2]string]bool, len(perms))
	for _, p := range perms {
		want[[2]string{p.Key, p.RangeEnd}] = true
	}
	for _, p := range cur.Perm {
		if !want[[2]string{string(p.Key), string(p.RangeEnd)}] {
			if _, err := a.cli.RoleRevokePermission(ctx, role, string(p.Key), string(p.RangeEnd)); err != nil {
				return a.err("revoke "+string(p.Key)+" from role "+role, err)
			}
		}
	}
	for _, p := range perms {
		if _, err := a.cli.RoleGrantPermission(ctx, role, p.Key, p.RangeEnd, clientv3.PermissionType(p.Type)); err != nil {
			return a.err("grant "+p.String()+" to role "+role, err)
		}
	}
	return nil
}

func (a *EtcdAuthAdmin) err(op string, err error) error {
	return connError("etcd", a.cli.Endpoints(), op, err)
}

func generatePassword() (string, error) {
	b := make([]byte, passwordBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate a password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// WriteIdentity prints what was set up and how to use it: the permissions,
// the password (once) or the certificate's CN, and the config lines.
func WriteIdentity(w io.Writer, id Identity, forAgent bool) error {
	var b strings.Builder
	state := "exists"
	if id.Created {
		state = "created"
	}
	fmt.Fprintf(&b, "user %s (%s), role %s\n", id.User, state, id.Role)
	for _, p := range id.Permissions {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	switch {
	case id.Cert:
		fmt.Fprintf(&b, "authenticates with a client certificate whose CN is %q (etcd --client-cert-auth); no password\n", id.User)
	case id.Password != "":
		fmt.Fprintf(&b, "password (shown once, stored nowhere): %s\n", id.Password)
	default:
		fmt.Fprintf(&b, "password unchanged (--rotate-password sets a new one)\n")
	}
	if forAgent && !id.Cert {
		fmt.Fprintf(&b, "agent config (the password from the environment or a file, not the YAML):\n  etcd:\n    username: %s\n    password: ${ETCD_PASSWORD}\n", id.User)
	}
	if forAgent && id.Cert {
		fmt.Fprintf(&b, "agent config:\n  etcd:\n    tls: {enabled: true, ca_file: ..., cert_file: <cert with CN=%s>, key_file: ...}\n", id.User)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
