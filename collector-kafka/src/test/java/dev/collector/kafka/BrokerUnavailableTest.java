package dev.collector.kafka;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.CheckpointException;
import dev.collector.Retry;
import dev.collector.SourceException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * No broker at start, a missing topic, and a broker that goes away during the run: each ends the
 * run with a clear exception within the configured bounds, never a hang.
 */
@ExtendWith(SharedBroker.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class BrokerUnavailableTest {

  @Test
  void noBrokerAtStart_failsWithinStartupTimeout_naming_bootstrap() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort(); // closed again: nothing listens there
    }
    String bootstrap = "127.0.0.1:" + port;
    var options =
        KafkaCollectorOptions.builder()
            .name("nobroker")
            .topics("t")
            .startupTimeout(Duration.ofSeconds(2))
            .build();
    try (var collector =
        Kit.open(
            Kit.consumerConfig(bootstrap, "g", "classic"),
            options,
            Committer.CommitObserver.NONE)) {
      long start = System.nanoTime();
      SourceException e =
          assertThrows(SourceException.class, () -> collector.process(4, batch -> {}));
      long millis = (System.nanoTime() - start) / 1_000_000;
      assertTrue(millis < 10_000, "took " + millis + " ms");
      assertTrue(e.getMessage().contains("no broker answered at " + bootstrap), e.getMessage());
    }
  }

  @Test
  void missingTopic_failsNamingIt(Broker broker) throws Exception {
    var options =
        KafkaCollectorOptions.builder()
            .name("notopic")
            .topics("no-such-topic")
            .startupTimeout(Duration.ofSeconds(5))
            .build();
    try (var collector =
        Kit.open(
            Kit.consumerConfig(broker.bootstrap(), "g", "classic"),
            options,
            Committer.CommitObserver.NONE)) {
      SourceException e =
          assertThrows(SourceException.class, () -> collector.process(4, batch -> {}));
      assertTrue(e.getMessage().contains("'no-such-topic' does not exist"), e.getMessage());
    }
  }

  @Test
  void brokerGoesAwayDuringRun_commitRetriesThenFails_noHang() throws Exception {
    Broker own = Broker.start();
    try {
      String topic = Kit.unique("outage");
      Kit.createTopic(own, topic, 2);
      Kit.produce(own, topic, 1_000, i -> "k" + i);
      var gate = new CountDownLatch(1);
      AtomicInteger handled = new AtomicInteger();
      var options =
          KafkaCollectorOptions.builder()
              .name("outage")
              .topics(topic)
              .maxBatch(10, 1 << 20)
              .commit(
                  Duration.ofMillis(500), Retry.of(2, Duration.ofMillis(10), Duration.ofMillis(50)))
              .build();
      var config = Kit.consumerConfig(own.bootstrap(), Kit.unique("g"), "classic");
      config.put("default.api.timeout.ms", 2_000);
      config.put("request.timeout.ms", 1_000);
      try (var collector = Kit.open(config, options, Committer.CommitObserver.NONE);
          var runs = Executors.newVirtualThreadPerTaskExecutor()) {
        Future<?> run =
            runs.submit(
                () ->
                    collector.process(
                        4,
                        batch -> {
                          if (handled.incrementAndGet() > 4) {
                            gate.await(); // the fifth batch onwards waits for the outage
                          }
                        }));
        await().atMost(Duration.ofSeconds(20)).until(() -> handled.get() > 4);
        own.close(); // the broker goes away with handled batches still to commit
        long start = System.nanoTime();
        gate.countDown();
        ExecutionException e =
            assertThrows(ExecutionException.class, () -> run.get(30, TimeUnit.SECONDS));
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertTrue(e.getCause() instanceof CheckpointException, String.valueOf(e.getCause()));
        assertTrue(
            e.getCause().getMessage().contains("could not commit offsets"),
            e.getCause().getMessage());
        System.out.println("outage reported after " + millis + " ms: " + e.getCause().getMessage());
      }
    } finally {
      own.close();
    }
  }
}
