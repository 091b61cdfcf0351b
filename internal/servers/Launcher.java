// Launcher runs one Elasticsearch or OpenSearch node in this JVM from the server jars on the
// classpath, for internal/servers (elasticsearch.go). searchnode-fetch.sh compiles it with javac
// into the engine's launcher.jar: as it is for Elasticsearch, with its org.elasticsearch.
// packages renamed org.opensearch. for OpenSearch (a fork of Elasticsearch 7.10 that kept these
// classes and the Node constructor).
//
//	java -cp 'libs/*:launcher.jar' Launcher [--exit-after-start] [--plugin=CLASS]... key=value...
//
// Each --plugin names a module's Plugin class to load (the pom's <launcher.plugins>), each
// key=value is a node setting (what `elasticsearch -E key=value` takes). The node runs until
// SIGTERM or SIGINT, then closes cleanly (flushing its shards) and the JVM exits (143 after a
// SIGTERM). --exit-after-start closes the node as soon as it has started: the fetch script runs
// it once to dump a class-data-sharing archive.
//
// Why not the distribution's `elasticsearch` script: there is no distribution here, only the
// jars published on Maven Central. Its Bootstrap also needs the distribution's layout
// (modules/, jvm.options, a security policy) and refuses to run as root, which CI is.
// Constructing Node ourselves skips all of that, bootstrap checks included; ES's own test
// framework (MockNode) and client libraries' test suites start nodes the same way.
//
// Gotchas:
//   - The Node constructor that takes classpath plugins is protected, and its signature
//     changes between versions (7.17: Environment, Collection<Class<? extends Plugin>>,
//     boolean forbidPrivateIndexSettings; the same in OpenSearch 2.19;
//     `javap -cp 'libs/*' org.elasticsearch.node.Node`), hence the subclass. The public
//     Node(Environment) only loads plugins from
//     $path.home/modules and plugins/, which we do not have: no HTTP transport at all.
//   - Only what Maven Central has can be loaded. For Elasticsearch 7.x: transport-netty4-client
//     (HTTP and transport) and the "-client" modules (mapper-extras-client, reindex-client,
//     ...); analysis-common, lang-painless and ingest-common are not published, and x-pack is
//     not loaded (ILM, data streams, security, ...): those features are missing, see
//     elasticsearch.go. OpenSearch publishes its modules (analysis-common, lang-painless, ...).
//   - A classpath plugin that is an ExtensiblePlugin (painless) gets no extensions.
//   - Settings of plugins that are not loaded (xpack.*, ingest.geoip.*) are rejected as
//     unknown, and index-level settings (index.*) are rejected as node settings.
//   - A failure in the constructor can leave non-daemon threads (thread pools) behind, so the
//     JVM would not exit on its own: halt instead.
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.logging.log4j.LogManager;
import org.elasticsearch.Version;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.Plugin;

public final class Launcher {
	private static final class TestNode extends Node {
		TestNode(Environment env, List<Class<? extends Plugin>> plugins) {
			super(env, plugins, true); // true: forbid private index settings, as Node(Environment) does
		}
	}

	public static void main(String[] args) {
		boolean exitAfterStart = false;
		List<Class<? extends Plugin>> plugins = new ArrayList<>();
		Settings.Builder b = Settings.builder();
		for (String a : args) {
			if (a.equals("--exit-after-start")) {
				exitAfterStart = true;
				continue;
			}
			if (a.startsWith("--plugin=")) {
				try {
					plugins.add(Class.forName(a.substring("--plugin=".length())).asSubclass(Plugin.class));
				} catch (Throwable t) {
					fail("load plugin " + a, t);
				}
				continue;
			}
			int eq = a.indexOf('=');
			if (eq <= 0) {
				System.err.println("launcher: want key=value, got " + a);
				System.exit(2);
			}
			b.put(a.substring(0, eq), a.substring(eq + 1));
		}

		Node node;
		try {
			// configPath null: $path.home/config, which does not exist, so no elasticsearch.yml
			// (opensearch.yml).
			Environment env = InternalSettingsPreparer.prepareEnvironment(b.build(), Collections.emptyMap(), null,
					() -> "node");
			node = new TestNode(env, plugins);
		} catch (Throwable t) {
			fail("create node", t);
			return;
		}

		CountDownLatch closed = new CountDownLatch(1);
		Runtime.getRuntime().addShutdownHook(new Thread(() -> {
			try {
				node.close();
				if (!node.awaitClose(10, TimeUnit.SECONDS)) {
					System.err.println("launcher: node not closed after 10s");
				}
			} catch (Throwable t) {
				t.printStackTrace();
			} finally {
				closed.countDown();
				// log4j's own shutdown hook is off (-Dlog4j2.shutdownHookEnabled=false): it could
				// run first and lose the node's closing lines.
				LogManager.shutdown();
			}
		}, "launcher-shutdown"));

		try {
			node.start();
		} catch (Throwable t) {
			fail("start node", t);
			return;
		}
		System.out.println("launcher: started " + Version.CURRENT);
		if (exitAfterStart) {
			System.exit(0); // the shutdown hook closes the node
		}
		try {
			closed.await();
		} catch (InterruptedException e) {
			Thread.currentThread().interrupt();
		}
	}

	private static void fail(String what, Throwable t) {
		System.err.println("launcher: " + what + ": " + t);
		t.printStackTrace();
		System.err.flush();
		Runtime.getRuntime().halt(1);
	}
}
