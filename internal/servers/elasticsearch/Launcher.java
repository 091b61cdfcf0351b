// Launcher runs one Elasticsearch node in this JVM from the server jars on the classpath, for
// internal/testenv (elasticsearch.go). fetch.sh compiles it with javac into launcher.jar.
//
//	java -cp 'libs/*:launcher.jar' Launcher [--exit-after-start] key=value...
//
// Each key=value is a node setting (what `elasticsearch -E key=value` takes). The node runs
// until SIGTERM or SIGINT, then closes cleanly (flushing its shards) and the JVM exits (143 after
// a SIGTERM). --exit-after-start closes the node as soon as it has started: fetch.sh runs it once
// to dump a class-data-sharing archive.
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
//     boolean forbidPrivateIndexSettings; `javap -cp 'libs/*' org.elasticsearch.node.Node`),
//     hence the subclass. The public Node(Environment) only loads plugins from
//     $path.home/modules and plugins/, which we do not have: no HTTP transport at all.
//   - Only what Maven Central has for 7.x can be loaded: transport-netty4-client (HTTP and
//     transport) and the "-client" modules (mapper-extras-client, reindex-client, ...).
//     analysis-common, lang-painless and ingest-common are not published, and x-pack is not
//     loaded (ILM, data streams, security, ...): those features are missing, see
//     elasticsearch.go.
//   - Settings of plugins that are not loaded (xpack.*, ingest.geoip.*) are rejected as
//     unknown, and index-level settings (index.*) are rejected as node settings.
//   - A failure in the constructor can leave non-daemon threads (thread pools) behind, so the
//     JVM would not exit on its own: halt instead.
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.logging.log4j.LogManager;
import org.elasticsearch.Version;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.index.mapper.MapperExtrasPlugin;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.transport.Netty4Plugin;

public final class Launcher {
	// The modules in pom.xml.
	private static final List<Class<? extends Plugin>> PLUGINS = List.of(Netty4Plugin.class, MapperExtrasPlugin.class);

	private static final class TestNode extends Node {
		TestNode(Environment env) {
			super(env, PLUGINS, true); // true: forbid private index settings, as Node(Environment) does
		}
	}

	public static void main(String[] args) {
		boolean exitAfterStart = false;
		Settings.Builder b = Settings.builder();
		for (String a : args) {
			if (a.equals("--exit-after-start")) {
				exitAfterStart = true;
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
			// configPath null: $path.home/config, which does not exist, so no elasticsearch.yml.
			Environment env = InternalSettingsPreparer.prepareEnvironment(b.build(), Collections.emptyMap(), null,
					() -> "node");
			node = new TestNode(env);
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
		System.out.println("launcher: started elasticsearch " + Version.CURRENT);
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
