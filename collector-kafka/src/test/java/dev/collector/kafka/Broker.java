package dev.collector.kafka;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.common.utils.internals.Exit;
import org.apache.kafka.metadata.storage.Formatter;
import org.apache.kafka.server.common.MetadataVersion;

/**
 * One combined broker+controller KRaft node inside the test JVM, on loopback ports, in a temp
 * directory. Settings that speed up rebalances for both group protocols.
 */
final class Broker implements AutoCloseable {

  static {
    // A fatal broker fault must fail a test, not halt the test JVM.
    Exit.setHaltProcedure(
        (code, message) -> {
          throw new IllegalStateException("broker halt(" + code + "): " + message);
        });
    Exit.setExitProcedure(
        (code, message) -> {
          throw new IllegalStateException("broker exit(" + code + "): " + message);
        });
  }

  private final Path dir;
  private final KafkaRaftServer server;
  private final String bootstrap;

  private Broker(Path dir, KafkaRaftServer server, String bootstrap) {
    this.dir = dir;
    this.server = server;
    this.bootstrap = bootstrap;
  }

  static Broker start() throws Exception {
    Path dir = Files.createTempDirectory("collector-kafka-broker");
    int port = freePort();
    int controllerPort = freePort();
    Properties p = new Properties();
    p.put("process.roles", "broker,controller");
    p.put("node.id", "1");
    p.put("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
    p.put(
        "listeners", "PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort);
    p.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + port);
    p.put("controller.listener.names", "CONTROLLER");
    p.put("inter.broker.listener.name", "PLAINTEXT");
    p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
    p.put("log.dirs", dir.toString());
    p.put("offsets.topic.replication.factor", "1");
    p.put("offsets.topic.num.partitions", "1");
    p.put("transaction.state.log.replication.factor", "1");
    p.put("transaction.state.log.min.isr", "1");
    p.put("transaction.state.log.num.partitions", "1");
    p.put("share.coordinator.state.topic.replication.factor", "1");
    p.put("share.coordinator.state.topic.min.isr", "1");
    p.put("group.initial.rebalance.delay.ms", "0");
    p.put("auto.create.topics.enable", "false");
    p.put("num.partitions", "1");
    // The new consumer group protocol: heartbeats and assignments fast enough for tests, and a
    // dead member detected after 6 s instead of 45 s.
    p.put("group.consumer.heartbeat.interval.ms", "500");
    p.put("group.consumer.min.heartbeat.interval.ms", "500");
    p.put("group.consumer.assignment.interval.ms", "0");
    p.put("group.consumer.min.session.timeout.ms", "6000");
    p.put("group.consumer.session.timeout.ms", "6000");
    KafkaConfig config = KafkaConfig.fromProps(p, false);
    new Formatter()
        .setPrintStream(new PrintStream(OutputStream.nullOutputStream()))
        .setNodeId(1)
        .setClusterId(Uuid.randomUuid().toString())
        .setDirectories(List.of(dir.toString()))
        .setMetadataLogDirectory(dir.toString())
        .setControllerListenerName("CONTROLLER")
        .setReleaseVersion(MetadataVersion.latestProduction())
        .run();
    KafkaRaftServer server = new KafkaRaftServer(config, Time.SYSTEM);
    server.startup();
    String bootstrap = "127.0.0.1:" + port;
    Broker broker = new Broker(dir, server, bootstrap);
    try (Admin admin = broker.admin()) {
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (admin.describeCluster().nodes().get().isEmpty()) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("broker did not come up at " + bootstrap);
        }
        Thread.sleep(50); // polling for readiness, not ordering test events
      }
    }
    return broker;
  }

  String bootstrap() {
    return bootstrap;
  }

  Admin admin() {
    Map<String, Object> config = new HashMap<>();
    config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    return Admin.create(config);
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  private boolean closed;

  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    server.shutdown();
    server.awaitShutdown();
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(f);
      }
    }
  }
}
