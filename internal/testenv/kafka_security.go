package testenv

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// KafkaOptions add secured listeners or settings to the broker of StartKafkaWithOptions. The PLAINTEXT
// listener of Brokers stays (the test's own admin client and readiness check use it).
type KafkaOptions struct {
	// Certs, when set, adds the listeners SSL (server certificate, no client certificate),
	// MTLS (a client certificate signed by Certs.CA required), SASL_SSL (mechanisms PLAIN,
	// SCRAM-SHA-256 and SCRAM-SHA-512 for Users) and EXPIRED (SSL with the expired server
	// certificate). Listener returns their addresses.
	Certs *Certs
	// Users are the SASL users and their passwords, accepted by every mechanism.
	Users map[string]string
	// Tuned starts the broker's JVM as a deployment's (servers.KafkaConfig.Tuned), for
	// benchmarks.
	Tuned bool
	// ports chooses the client and controller ports; nil means freePorts. For the tests of
	// the retry on a taken port.
	ports func(testing.TB) (int, int)
	// ExtraProps is appended to the broker's server.properties (a key given again wins),
	// such as "auto.create.topics.enable=false\n", as managed Kafka services run.
	ExtraProps string
}

// kafkaSecureListeners are the listeners Certs adds, with their security protocols.
var kafkaSecureListeners = []struct{ name, protocol string }{
	{"SSL", "SSL"}, {"MTLS", "SSL"}, {"SASL_SSL", "SASL_SSL"}, {"EXPIRED", "SSL"},
}

// StartKafkaWithOptions is StartKafka with the secured listeners and the JVM of o.
func StartKafkaWithOptions(t testing.TB, o KafkaOptions) *Kafka {
	t.Helper()
	return startKafka(t, o)
}

// Listener returns the address of the listener named name (see KafkaOptions.Certs), or fails
// the test if the broker has none.
func (k *Kafka) Listener(name string) string {
	k.t.Helper()
	port, ok := k.secure[name]
	if !ok {
		k.t.Fatalf("kafka: no listener %s", name)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// props returns the server.properties lines o adds to the base config; they come last, so
// they override its listeners. It chooses the listeners' ports into secure.
func (o KafkaOptions) props(t testing.TB, port, ctrlPort int, secure map[string]int) string {
	if o.Certs == nil {
		return o.ExtraProps
	}
	listeners := []string{fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", port)}
	protocols := []string{"PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"}
	for _, l := range kafkaSecureListeners {
		p, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		secure[l.name] = p
		listeners = append(listeners, fmt.Sprintf("%s://127.0.0.1:%d", l.name, secure[l.name]))
		protocols = append(protocols, l.name+":"+l.protocol)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "listeners=%s,CONTROLLER://127.0.0.1:%d\n", strings.Join(listeners, ","), ctrlPort)
	fmt.Fprintf(&b, "advertised.listeners=%s\n", strings.Join(listeners, ","))
	fmt.Fprintf(&b, "listener.security.protocol.map=%s\n", strings.Join(protocols, ","))
	// PEM key stores: the key (unencrypted PKCS#8) and the chain in one file.
	fmt.Fprintf(&b, "ssl.keystore.type=PEM\nssl.keystore.location=%s\n", o.Certs.ServerPEM)
	fmt.Fprintf(&b, "ssl.truststore.type=PEM\nssl.truststore.location=%s\n", o.Certs.CA)
	fmt.Fprintf(&b, "listener.name.expired.ssl.keystore.type=PEM\nlistener.name.expired.ssl.keystore.location=%s\n", o.Certs.ExpiredPEM)
	b.WriteString("listener.name.mtls.ssl.client.auth=required\n")
	b.WriteString("listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512\n")
	users := make([]string, 0, len(o.Users))
	for u, p := range o.Users {
		users = append(users, fmt.Sprintf("user_%s=%q", u, p))
	}
	sort.Strings(users)
	fmt.Fprintf(&b, "listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required %s;\n", strings.Join(users, " "))
	for _, m := range []string{"scram-sha-256", "scram-sha-512"} {
		fmt.Fprintf(&b, "listener.name.sasl_ssl.%s.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;\n", m)
	}
	return b.String() + o.ExtraProps
}

// addSCRAMUsers stores o.Users' SCRAM credentials (both mechanisms) through the PLAINTEXT
// listener, as kafka-configs --alter --add-config SCRAM-SHA-256=… does.
func (o KafkaOptions) addSCRAMUsers(k *Kafka) error {
	if o.Certs == nil || len(o.Users) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers()...))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A request may name a user once, so one request per mechanism.
	for _, m := range []kadm.ScramMechanism{kadm.ScramSha256, kadm.ScramSha512} {
		var upserts []kadm.UpsertSCRAM
		for u, p := range o.Users {
			upserts = append(upserts, kadm.UpsertSCRAM{User: u, Mechanism: m, Iterations: 4096, Password: p})
		}
		res, err := kadm.NewClient(cl).AlterUserSCRAMs(ctx, nil, upserts)
		if err == nil {
			err = res.Error()
		}
		if err != nil {
			return fmt.Errorf("kafka: add SCRAM users (%s): %w", m, err)
		}
	}
	// The broker authenticates with the credentials once it has applied the metadata record.
	for {
		d, err := kadm.NewClient(cl).DescribeUserSCRAMs(ctx)
		if err == nil && d.Error() == nil && len(d) == len(o.Users) && len(d.Sorted()[0].CredInfos) == 2 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka: SCRAM users not visible: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
