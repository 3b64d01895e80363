package dev.collector.kafka;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.BatchFailedException;
import dev.collector.CollectorClosedException;
import dev.collector.ConcurrentUseException;
import dev.collector.ReentrantCallException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Fail-fast, interrupt, and misuse on a Kafka collector: a failure or an interrupt commits each
 * partition's handled prefix and no more; misuse throws its own exception and changes nothing.
 */
@ExtendWith(SharedBroker.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RunLifecycleTest {

  @Test
  void handlerFails_failFast_commitsPrefix_namesPartitionAndOffset(Broker broker) throws Exception {
    String topic = Kit.unique("failfast");
    Kit.createTopic(broker, topic, 1);
    Kit.produce(broker, topic, 100, i -> "k" + i);
    String group = Kit.unique("g");
    var ledger = new Kit.Ledger();
    var options = KafkaCollectorOptions.builder().name("ff").topics(topic).build();
    try (var collector =
        Kit.open(
            Kit.consumerConfig(broker.bootstrap(), group, "classic"), options, ledger::committed)) {
      BatchFailedException e =
          assertThrows(
              BatchFailedException.class,
              () ->
                  collector.processRecords(
                      16,
                      1,
                      Ordering.PARTITION,
                      r -> {
                        if (r.offset() == 37) {
                          throw new IllegalStateException("bad record");
                        }
                        ledger.handled(new TopicPartition(r.topic(), r.partition()), r.offset());
                      }));
      assertEquals(37, e.sequence());
      assertTrue(e.getMessage().contains("partition '" + topic + "-0'"), e.getMessage());
      assertInstanceOf(IllegalStateException.class, e.getCause());
    }
    assertEquals(Map.of(new TopicPartition(topic, 0), 37L), Kit.committed(broker, group));
    assertEquals(List.of(), ledger.violations);
  }

  @Test
  void interrupted_commitsPrefix_throwsInterruptedException_statusKept(Broker broker)
      throws Exception {
    String topic = Kit.unique("interrupt");
    Kit.createTopic(broker, topic, 1);
    Kit.produce(broker, topic, 100, i -> "k" + i);
    String group = Kit.unique("g");
    var held = new CountDownLatch(1);
    AtomicBoolean statusKept = new AtomicBoolean();
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    var options = KafkaCollectorOptions.builder().name("intr").topics(topic).build();
    try (var collector =
        Kit.open(
            Kit.consumerConfig(broker.bootstrap(), group, "classic"),
            options,
            Committer.CommitObserver.NONE)) {
      Thread runner =
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      collector.processRecords(
                          16,
                          1,
                          Ordering.PARTITION,
                          r -> {
                            if (r.offset() == 10) {
                              held.countDown();
                              new CountDownLatch(1).await(); // until interrupted
                            }
                          });
                    } catch (Throwable t) {
                      thrown.set(t);
                      statusKept.set(Thread.currentThread().isInterrupted());
                    }
                  });
      assertTrue(held.await(30, TimeUnit.SECONDS));
      runner.interrupt();
      runner.join(Duration.ofSeconds(30));
    }
    assertInstanceOf(InterruptedException.class, thrown.get());
    assertTrue(statusKept.get(), "interrupt status kept");
    assertEquals(Map.of(new TopicPartition(topic, 0), 10L), Kit.committed(broker, group));
  }

  @Test
  void misuse_eachGetsItsOwnException(Broker broker) throws Exception {
    String topic = Kit.unique("misuse");
    Kit.createTopic(broker, topic, 1);
    Kit.produce(broker, topic, 10, i -> "k" + i);
    var config = Kit.consumerConfig(broker.bootstrap(), Kit.unique("g"), "classic");
    var options = KafkaCollectorOptions.builder().name("misuse").topics(topic).build();

    var autoCommit = new java.util.HashMap<>(config);
    autoCommit.put("enable.auto.commit", "true");
    var e =
        assertThrows(
            IllegalArgumentException.class,
            () -> Kit.open(autoCommit, options, Committer.CommitObserver.NONE));
    assertTrue(e.getMessage().contains("enable.auto.commit"), e.getMessage());

    var noGroup = new java.util.HashMap<>(config);
    noGroup.remove("group.id");
    assertThrows(
        IllegalArgumentException.class,
        () -> Kit.open(noGroup, options, Committer.CommitObserver.NONE));

    var slowDrain =
        KafkaCollectorOptions.builder()
            .topics(topic)
            .revokeDrainTimeout(Duration.ofSeconds(30))
            .build(); // max.poll.interval.ms is 20 s here
    assertThrows(
        IllegalArgumentException.class,
        () -> Kit.open(config, slowDrain, Committer.CommitObserver.NONE));

    var collector = Kit.open(config, options, Committer.CommitObserver.NONE);
    var inHandler = new AtomicReference<Throwable>();
    var running = new CountDownLatch(1);
    var release = new CountDownLatch(1);
    try (var runs = Executors.newVirtualThreadPerTaskExecutor()) {
      Future<?> run =
          runs.submit(
              () ->
                  collector.process(
                      4,
                      batch -> {
                        try {
                          collector.process(4, b -> {});
                        } catch (Throwable t) {
                          inHandler.compareAndSet(null, t);
                        }
                        running.countDown();
                        release.await();
                      }));
      assertTrue(running.await(30, TimeUnit.SECONDS));
      assertInstanceOf(ReentrantCallException.class, inHandler.get());
      assertThrows(ConcurrentUseException.class, () -> collector.process(4, b -> {}));
      release.countDown();
      collector.stop();
      try {
        run.get(30, TimeUnit.SECONDS);
      } catch (ExecutionException ex) {
        throw new AssertionError("the run should have stopped cleanly", ex.getCause());
      }
    }
    collector.close();
    collector.close(); // closing again does nothing
    var closed = assertThrows(CollectorClosedException.class, () -> collector.process(4, b -> {}));
    assertTrue(closed.getMessage().contains("is closed"), closed.getMessage());
    await().atMost(Duration.ofSeconds(1)).until(() -> collector.progress().capacity() == 0);
  }
}
