// Launcher runs one OpenSearch node in this JVM from the server jars on the classpath, for
// internal/servers (opensearch.go). fetch.sh compiles it with javac into launcher.jar. It is
// elasticsearch/Launcher.java for OpenSearch's packages (OpenSearch 2.x forked ES 7.10 and kept
// the Node constructor); read that file for the why.
//
//	java -cp 'libs/*:launcher.jar' Launcher [--exit-after-start] key=value...
//
// Each key=value is a node setting (what `opensearch -E key=value` takes). The node runs until
// SIGTERM or SIGINT, then closes cleanly and the JVM exits (143 after a SIGTERM).
// --exit-after-start closes the node as soon as it has started: fetch.sh runs it once to dump a
// class-data-sharing archive.
//
// Gotchas:
//   - The protected Node(Environment, Collection<Class<? extends Plugin>>, boolean) is the
//     one that takes classpath plugins (2.19; `javap -cp 'libs/*' org.opensearch.node.Node`).
//   - Unlike Elasticsearch 7, OpenSearch publishes its modules on Maven Central:
//     analysis-common, lang-painless (with its SPI), mapper-extras, and more. Those in pom.xml
//     are loaded; each needs its Plugin class in PLUGINS below.
//   - A classpath plugin that is an ExtensiblePlugin (painless) gets no extensions: none are
//     loaded here.
//   - A failure in the constructor can leave non-daemon threads behind: halt instead.
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.logging.log4j.LogManager;
import org.opensearch.Version;
import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

public final class Launcher {
	// The modules in pom.xml.
	private static final List<Class<? extends Plugin>> PLUGINS = List.of(Netty4Plugin.class,
			CommonAnalysisPlugin.class, PainlessPlugin.class, MapperExtrasPlugin.class);

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
			// configPath null: $path.home/config, which does not exist, so no opensearch.yml.
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
				LogManager.shutdown(); // log4j's own hook is off: the closing lines reach node.log
			}
		}, "launcher-shutdown"));

		try {
			node.start();
		} catch (Throwable t) {
			fail("start node", t);
			return;
		}
		System.out.println("launcher: started opensearch " + Version.CURRENT);
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
