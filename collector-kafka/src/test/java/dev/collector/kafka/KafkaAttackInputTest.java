package dev.collector.kafka;

import static dev.collector.kafka.KafkaAttackKit.config;
import static dev.collector.kafka.KafkaAttackKit.open;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.CollectorOptions;
import dev.collector.ProcessSummary;
import dev.collector.SourceException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/** Attacks with bad input: what open, the options and a run's arguments reject. */
@ExtendWith(SharedBroker.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class KafkaAttackInputTest {

  private static KafkaCollectorOptions options(String topic) {
    return KafkaCollectorOptions.builder().name("attack").topics(topic).build();
  }

  @Test
  void depthOutOfRange_rejectedWithIae_noRunStarted(Broker broker) {
    try (var c = open(config(broker), options(Kit.unique("never-created")))) {
      for (int depth : new int[] {0, -1, Integer.MIN_VALUE, CollectorOptions.MAX_DEPTH + 1}) {
        assertThrows(
            IllegalArgumentException.class,
            () -> c.process(depth, b -> {}),
            "process depth " + depth);
        assertThrows(
            IllegalArgumentException.class,
            () -> c.processRecords(depth, 1, Ordering.UNORDERED, r -> {}),
            "processRecords depth " + depth);
      }
      assertFalse(c.stop(), "no run may be active after a rejected call");
      assertEquals(0, c.progress().capacity());
    }
  }

  @Test
  void concurrencyBelowOne_rejectedWithIae(Broker broker) {
    try (var c = open(config(broker), options(Kit.unique("never-created")))) {
      for (int concurrency : new int[] {0, -1, Integer.MIN_VALUE}) {
        assertThrows(
            IllegalArgumentException.class,
            () -> c.processRecords(10, concurrency, Ordering.KEY, r -> {}));
      }
      assertFalse(c.stop());
    }
  }

  @Test
  void nullHandlerOrOrdering_rejectedWithNpe_noRunStarted(Broker broker) {
    try (var c = open(config(broker), options(Kit.unique("never-created")))) {
      assertThrows(NullPointerException.class, () -> c.process(4, null));
      assertThrows(
          NullPointerException.class, () -> c.processRecords(4, 1, Ordering.UNORDERED, null));
      assertThrows(NullPointerException.class, () -> c.processRecords(4, 1, null, r -> {}));
      assertThrows(NullPointerException.class, () -> c.next(null));
      assertFalse(c.stop());
      assertEquals(0, c.progress().capacity());
    }
  }

  @Test
  void options_noTopics_bothTopicsAndPattern_badBounds_rejected() {
    assertThrows(IllegalArgumentException.class, () -> KafkaCollectorOptions.builder().build());
    assertThrows(
        IllegalArgumentException.class, () -> KafkaCollectorOptions.builder().topics().build());
    assertThrows(
        IllegalArgumentException.class,
        () -> KafkaCollectorOptions.builder().topics("a").pattern(Pattern.compile("a.*")).build());
    assertThrows(
        IllegalArgumentException.class,
        () -> KafkaCollectorOptions.builder().topics("a").maxBatch(0, 1).build());
    assertThrows(
        IllegalArgumentException.class,
        () -> KafkaCollectorOptions.builder().topics("a").maxBatch(1, 0).build());
    assertThrows(
        IllegalArgumentException.class,
        () ->
            KafkaCollectorOptions.builder()
                .topics("a")
                .drainTimeout(Duration.ofMillis(-1))
                .build());
    assertThrows(
        IllegalArgumentException.class,
        () -> KafkaCollectorOptions.builder().topics("a").pollTimeout(Duration.ZERO).build());
    assertThrows(
        IllegalArgumentException.class,
        () -> KafkaCollectorOptions.builder().topics("a").startupTimeout(Duration.ZERO).build());
    assertThrows(
        IllegalArgumentException.class,
        () -> KafkaCollectorOptions.builder().topics("a").pullDepth(0).build());
    assertThrows(
        IllegalArgumentException.class,
        () ->
            KafkaCollectorOptions.builder()
                .topics("a")
                .commit(Duration.ZERO, dev.collector.Retry.NONE)
                .build());
  }

  @Test
  void autoCommitTrue_inEverySpelling_rejected(Broker broker) {
    for (Object value : new Object[] {Boolean.TRUE, "true", "TRUE", "True"}) {
      Map<String, Object> config = config(broker);
      config.put("enable.auto.commit", value);
      var e =
          assertThrows(
              IllegalArgumentException.class,
              () -> open(config, options("t")),
              "enable.auto.commit=" + value);
      assertTrue(e.getMessage().contains("enable.auto.commit"), e.getMessage());
    }
    Map<String, Object> off = config(broker);
    off.put("enable.auto.commit", "false");
    open(off, options("t")).close(); // explicit false is fine
  }

  @Test
  void groupIdMissingOrBlank_rejected(Broker broker) {
    for (Object group : new Object[] {null, "", "   "}) {
      Map<String, Object> config = new HashMap<>(config(broker));
      if (group == null) {
        config.remove("group.id");
      } else {
        config.put("group.id", group);
      }
      assertThrows(
          IllegalArgumentException.class, () -> open(config, options("t")), "group.id=" + group);
    }
  }

  @Test
  void revokeDrainNotBelowMaxPollInterval_rejected_alsoWhenGivenAsStringOrDefault(Broker broker) {
    Map<String, Object> asString = config(broker);
    asString.put("max.poll.interval.ms", "20000");
    var equal =
        KafkaCollectorOptions.builder()
            .topics("t")
            .revokeDrainTimeout(Duration.ofSeconds(20))
            .build();
    assertThrows(IllegalArgumentException.class, () -> open(asString, equal));

    Map<String, Object> defaults = config(broker);
    defaults.remove("max.poll.interval.ms"); // Kafka's default: 300 s
    var atDefault =
        KafkaCollectorOptions.builder()
            .topics("t")
            .revokeDrainTimeout(Duration.ofSeconds(300))
            .build();
    assertThrows(IllegalArgumentException.class, () -> open(defaults, atDefault));
  }

  /** Docs: bootstrap.servers is required; they do not say what open throws without it. */
  @Test
  void bootstrapServersMissing_openFails(Broker broker) {
    Map<String, Object> config = config(broker);
    config.remove("bootstrap.servers");
    RuntimeException e = assertThrows(RuntimeException.class, () -> open(config, options("t")));
    System.out.println("bootstrap.servers missing -> " + e);
  }

  /** Docs: a missing topic fails the run at once with SourceException naming it. */
  @Test
  void emptyTopicName_failsPromptly_notHang(Broker broker) throws Exception {
    try (var c = open(config(broker), options(""))) {
      var run = new KafkaAttackKit.Bg<>("empty-topic", () -> c.process(4, b -> {}));
      Throwable failure = run.failure(20);
      assertTrue(
          failure instanceof SourceException || failure instanceof IllegalArgumentException,
          "expected SourceException (missing topic) or IllegalArgumentException, got " + failure);
    }
  }

  /**
   * Docs don't say what a pattern matching no topic does; a pattern subscription naturally waits
   * for topics to appear. At least stop() must end it cleanly.
   */
  @Test
  void patternMatchingNothing_runWaits_stopEndsIt(Broker broker) throws Exception {
    var options =
        KafkaCollectorOptions.builder()
            .name("pattern")
            .pattern(Pattern.compile(Kit.unique("nomatch") + "-.*"))
            .build();
    try (var c = open(config(broker), options)) {
      var run = new KafkaAttackKit.Bg<>("pattern", () -> c.process(4, b -> {}));
      await().atMost(Duration.ofSeconds(10)).until(() -> run.done() || c.progress().capacity() > 0);
      if (!run.done()) {
        assertTrue(c.stop());
      }
      ProcessSummary summary = run.value(30);
      assertTrue(summary.stopped(), summary.toString());
    }
  }
}
