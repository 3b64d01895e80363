package dev.collector.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.collector.FailurePolicy;
import dev.collector.Retry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** {@link KafkaCollectorOptions}, {@link KafkaProgress}, {@link PartitionProgress}: no broker. */
class KafkaValueTypesTest {

  private static KafkaCollectorOptions.Builder options() {
    return KafkaCollectorOptions.builder()
        .name("orders")
        .topics("a", "b")
        .maxBatch(10, 1000)
        .failurePolicy(FailurePolicy.retry(Retry.of(3, Duration.ZERO, Duration.ZERO)))
        .drainTimeout(Duration.ofSeconds(1))
        .revokeDrainTimeout(Duration.ofSeconds(2))
        .commitInterval(Duration.ofMillis(3))
        .commit(Duration.ofSeconds(4), Retry.of(2, Duration.ofMillis(1), Duration.ofMillis(2)))
        .startupTimeout(Duration.ofSeconds(5))
        .pollTimeout(Duration.ofMillis(6))
        .pullDepth(7);
  }

  @Test
  void options_defaults() {
    KafkaCollectorOptions o = KafkaCollectorOptions.builder().topics("t").build();
    assertEquals("kafka", o.name());
    assertEquals(List.of("t"), o.topics());
    assertNull(o.pattern());
    assertEquals(500, o.maxBatchRecords());
    assertEquals(1 << 20, o.maxBatchBytes());
    assertEquals(FailurePolicy.failFast(), o.failurePolicy());
    assertEquals(Duration.ofSeconds(30), o.drainTimeout());
    assertEquals(Duration.ofSeconds(10), o.revokeDrainTimeout());
    assertEquals(Duration.ofMillis(100), o.commitInterval());
    assertEquals(Duration.ofSeconds(10), o.commitTimeout());
    assertEquals(Retry.of(5, Duration.ofMillis(100), Duration.ofSeconds(2)), o.commitRetry());
    assertEquals(Duration.ofSeconds(30), o.startupTimeout());
    assertEquals(Duration.ofMillis(10), o.pollTimeout());
    assertEquals(64, o.pullDepth());
  }

  @Test
  void options_accessorsReturnWhatWasSet() {
    KafkaCollectorOptions o = options().build();
    assertEquals("orders", o.name());
    assertEquals(List.of("a", "b"), o.topics());
    assertEquals(10, o.maxBatchRecords());
    assertEquals(1000, o.maxBatchBytes());
    assertEquals(FailurePolicy.retry(Retry.of(3, Duration.ZERO, Duration.ZERO)), o.failurePolicy());
    assertEquals(Duration.ofSeconds(1), o.drainTimeout());
    assertEquals(Duration.ofSeconds(2), o.revokeDrainTimeout());
    assertEquals(Duration.ofMillis(3), o.commitInterval());
    assertEquals(Duration.ofSeconds(4), o.commitTimeout());
    assertEquals(2, o.commitRetry().maxAttempts());
    assertEquals(Duration.ofSeconds(5), o.startupTimeout());
    assertEquals(Duration.ofMillis(6), o.pollTimeout());
    assertEquals(7, o.pullDepth());
    Pattern p = Pattern.compile("orders-.*");
    assertEquals(p, KafkaCollectorOptions.builder().pattern(p).build().pattern());
  }

  @Test
  void options_equalsAndHashCode() {
    KafkaCollectorOptions o = options().build();
    assertEquals(o, options().build());
    assertEquals(o.hashCode(), options().build().hashCode());
    assertEquals(o.toString(), options().build().toString());
    assertNotEquals(o, null);
    assertNotEquals(o, options().name("x").build());
    assertNotEquals(o, options().topics("a").build());
    assertNotEquals(o, options().maxBatch(11, 1000).build());
    assertNotEquals(o, options().maxBatch(10, 1001).build());
    assertNotEquals(o, options().failurePolicy(FailurePolicy.failFast()).build());
    assertNotEquals(o, options().drainTimeout(Duration.ZERO).build());
    assertNotEquals(o, options().revokeDrainTimeout(Duration.ZERO).build());
    assertNotEquals(o, options().commitInterval(Duration.ZERO).build());
    assertNotEquals(o, options().commit(Duration.ofSeconds(9), o.commitRetry()).build());
    assertNotEquals(o, options().commit(o.commitTimeout(), Retry.NONE).build());
    assertNotEquals(o, options().startupTimeout(Duration.ofSeconds(9)).build());
    assertNotEquals(o, options().pollTimeout(Duration.ofMillis(9)).build());
    assertNotEquals(o, options().pullDepth(9).build());
  }

  @Test
  void options_validationMessages() {
    assertMessage(
        "set either topics or a pattern, not both and not neither; topics=[]" + " pattern=null",
        KafkaCollectorOptions.builder());
    assertMessage(
        "set either topics or a pattern, not both and not neither; topics=[a]" + " pattern=x",
        KafkaCollectorOptions.builder().topics("a").pattern(Pattern.compile("x")));
    assertMessage("maxBatchRecords must be >= 1, was 0", options().maxBatch(0, 1));
    assertMessage("maxBatchBytes must be >= 1, was 0", options().maxBatch(1, 0));
    assertMessage(
        "drainTimeout must be >= 0, was PT-1S", options().drainTimeout(Duration.ofSeconds(-1)));
    assertMessage(
        "revokeDrainTimeout must be >= 0, was PT-1S",
        options().revokeDrainTimeout(Duration.ofSeconds(-1)));
    assertMessage(
        "commitInterval must be >= 0, was PT-1S", options().commitInterval(Duration.ofSeconds(-1)));
    assertMessage(
        "commitTimeout must be > 0, was PT0S", options().commit(Duration.ZERO, Retry.NONE));
    assertMessage("startupTimeout must be > 0, was PT0S", options().startupTimeout(Duration.ZERO));
    assertMessage("pollTimeout must be > 0, was PT0S", options().pollTimeout(Duration.ZERO));
    assertMessage(
        "depth must be between 1 and 1048576 (CollectorOptions.MAX_DEPTH), was 0",
        options().pullDepth(0));
  }

  @Test
  @SuppressWarnings("NullAway")
  void options_nullsNameTheSetting() {
    assertEquals(
        "name", assertThrows(NullPointerException.class, options().name(null)::build).getMessage());
    assertEquals(
        "failurePolicy",
        assertThrows(NullPointerException.class, options().failurePolicy(null)::build)
            .getMessage());
    assertEquals(
        "drainTimeout",
        assertThrows(NullPointerException.class, options().drainTimeout(null)::build).getMessage());
  }

  private static PartitionProgress.Builder partition() {
    return PartitionProgress.builder()
        .topic("orders")
        .partition(3)
        .epoch(2)
        .fetched(120)
        .committed(96)
        .inFlight(3)
        .running(2)
        .waiting(1)
        .lag(40);
  }

  @Test
  void partitionProgress_defaultsFiguresEqualsAndToString() {
    PartitionProgress d = PartitionProgress.builder().build();
    assertEquals("", d.topic());
    assertEquals(0, d.partition());
    assertEquals(0, d.epoch());
    assertEquals(-1, d.fetched());
    assertEquals(-1, d.committed());
    assertEquals(0, d.inFlight());
    assertEquals(0, d.running());
    assertEquals(0, d.waiting());
    assertEquals(-1, d.lag());
    PartitionProgress p = partition().build();
    assertEquals("orders", p.topic());
    assertEquals(3, p.partition());
    assertEquals(2, p.epoch());
    assertEquals(120, p.fetched());
    assertEquals(96, p.committed());
    assertEquals(3, p.inFlight());
    assertEquals(2, p.running());
    assertEquals(1, p.waiting());
    assertEquals(40, p.lag());
    assertEquals(
        "orders-3 fetched=120 committed=96 inFlight=3 running=2 waiting=1 lag=40", p.toString());
    assertEquals(p, partition().build());
    assertEquals(p.hashCode(), partition().build().hashCode());
    assertNotEquals(p, partition().topic("x").build());
    assertNotEquals(p, partition().partition(4).build());
    assertNotEquals(p, partition().epoch(3).build());
    assertNotEquals(p, partition().fetched(121).build());
    assertNotEquals(p, partition().committed(97).build());
    assertNotEquals(p, partition().inFlight(4).build());
    assertNotEquals(p, partition().running(3).build());
    assertNotEquals(p, partition().waiting(2).build());
    assertNotEquals(p, partition().lag(41).build());
  }

  private static KafkaProgress.Builder progress() {
    return KafkaProgress.builder()
        .uncommitted(12)
        .capacity(64)
        .running(4)
        .handled(100)
        .committed(88)
        .fenced(0)
        .partitions(List.of(partition().build()));
  }

  @Test
  void kafkaProgress_defaultsFiguresEqualsAndToString() {
    KafkaProgress d = KafkaProgress.builder().build();
    assertEquals(0, d.uncommitted());
    assertEquals(0, d.capacity());
    assertEquals(0, d.running());
    assertEquals(0, d.handled());
    assertEquals(0, d.committed());
    assertEquals(0, d.fenced());
    assertEquals(List.of(), d.partitions());
    KafkaProgress k = progress().build();
    assertEquals(12, k.uncommitted());
    assertEquals(64, k.capacity());
    assertEquals(4, k.running());
    assertEquals(100, k.handled());
    assertEquals(88, k.committed());
    assertEquals(List.of(partition().build()), k.partitions());
    assertEquals(
        "uncommitted=12/64 running=4 handled=100 committed=88 partitions=[orders-3"
            + " fetched=120 committed=96 inFlight=3 running=2 waiting=1 lag=40]",
        k.toString());
    assertEquals(
        "uncommitted=12/64 running=4 handled=100 committed=88 fenced=2 partitions=[]",
        progress().fenced(2).partitions(List.of()).build().toString());
    assertEquals(k, progress().build());
    assertEquals(k.hashCode(), progress().build().hashCode());
    assertNotEquals(k, progress().uncommitted(13).build());
    assertNotEquals(k, progress().capacity(65).build());
    assertNotEquals(k, progress().running(5).build());
    assertNotEquals(k, progress().handled(101).build());
    assertNotEquals(k, progress().committed(89).build());
    assertNotEquals(k, progress().fenced(1).build());
    assertNotEquals(k, progress().partitions(List.of()).build());
  }

  @Test
  void kafkaProgress_copiesThePartitionList() {
    List<PartitionProgress> list = new ArrayList<>(List.of(partition().build()));
    KafkaProgress k = progress().partitions(list).build();
    list.clear();
    assertEquals(1, k.partitions().size());
    assertThrows(UnsupportedOperationException.class, () -> k.partitions().clear());
  }

  private static void assertMessage(String message, KafkaCollectorOptions.Builder builder) {
    assertEquals(
        message, assertThrows(IllegalArgumentException.class, builder::build).getMessage());
  }
}
