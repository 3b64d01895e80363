package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.Batch;
import dev.collector.BatchFailedException;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.FailurePolicy;
import dev.collector.HandlerContext;
import dev.collector.ProcessSummary;
import dev.collector.Retry;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The code examples in the javadoc of collector-api and collector-core, compiled and run. Each
 * example is a region of this file, marked with javadoc's snippet markup (line comments
 * {@code @start region="x"} and {@code @end}), and the javadoc quotes it with a snippet tag naming
 * this class and the region. Javadoc runs with this test source tree on its {@code --snippet-path}
 * (see the parent pom), so an example that stops compiling fails this module's test compilation,
 * one that stops behaving as its javadoc says fails this test, and a region that disappears fails
 * the javadoc build. Testkit examples: {@link TestkitJavadocExamplesTest}.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class JavadocExamplesTest {

  /** Stands in for wherever the records go. */
  static final class Sink {
    final ConcurrentLinkedQueue<String> written = new ConcurrentLinkedQueue<>();

    void write(List<String> records) {
      written.addAll(records);
    }
  }

  /** Stands in for a dead-letter queue. */
  static final class Quarantine {
    final ConcurrentHashMap<Long, Batch<?>> batches = new ConcurrentHashMap<>();

    void write(Batch<?> batch) {
      batches.put(batch.sequence(), batch);
    }
  }

  private final Sink sink = new Sink();
  private final Quarantine quarantine = new Quarantine();

  /** Stands in for SLF4J's MDC: a per-thread map of diagnostic context. */
  static final class MDC {
    static final ThreadLocal<java.util.Map<String, String>> CONTEXT =
        ThreadLocal.withInitial(java.util.HashMap::new);

    static void put(String key, String value) {
      CONTEXT.get().put(key, value);
    }

    static void remove(String key) {
      CONTEXT.get().remove(key);
    }

    static @org.jspecify.annotations.Nullable String get(String key) {
      return CONTEXT.get().get(key);
    }
  }

  /** {@link Batch}: a handler test builds the batch its handler receives. */
  @Test
  void batchForAHandlerTest() throws Exception {
    dev.collector.BatchHandler<String> handler = batch -> sink.write(batch.records());
    // @start region="batchOf"
    handler.handle(Batch.of(0, List.of("a", "b")));
    // @end
    assertEquals(List.of("a", "b"), List.copyOf(sink.written));
  }

  /** {@link dev.collector.HandlerContext}: an MDC entry around every attempt, cleared after. */
  @Test
  void handlerContextWithAnMdc() throws Exception {
    // @start region="handlerContextMdc"
    HandlerContext mdc =
        (batch, attempt) -> {
          MDC.put("batch", Long.toString(batch.sequence()));
          try {
            attempt.run();
          } finally {
            MDC.remove("batch");
          }
        };
    // @end
    var seen = new ConcurrentLinkedQueue<String>();
    var source = Collecting.listSource(List.of(List.of("a"), List.of("b")));
    try (Collector<String> collector =
        Collecting.open(
            source,
            Collecting.inMemoryStore(),
            CollectorOptions.builder().handlerContext(mdc).build())) {
      collector.process(
          4,
          batch -> {
            seen.add(MDC.get("batch"));
            assertTrue(Thread.currentThread().isVirtual());
          });
    }
    assertEquals(List.of("0", "1"), seen.stream().sorted().toList());
    assertEquals(null, MDC.get("batch"), "nothing set on the test's own thread");
  }

  /** {@link Collecting}: open a collector, process the source to its end. */
  @Test
  void collecting() throws Exception {
    var source = Collecting.listSource(List.of(List.of("a", "b"), List.of("c")));
    // @start region="collecting"
    Collector<String> collector =
        Collecting.open(source, Collecting.inMemoryStore(), CollectorOptions.defaults());
    ProcessSummary summary = collector.process(64, batch -> sink.write(batch.records()));
    collector.close();
    // @end
    assertEquals(2, summary.batches());
    assertEquals(3, summary.records());
    // batches run concurrently: the sink sees them in any order, the checkpoint in order
    assertEquals(List.of("a", "b", "c"), sink.written.stream().sorted().toList());
  }

  /** {@link CollectorMetrics}: the meters appear in the registry and count the run. */
  @Test
  void collectorMetrics() throws Exception {
    MeterRegistry registry = new SimpleMeterRegistry();
    try (Collector<String> collector =
        Collecting.open(
            Collecting.listSource(List.of(List.of("a"), List.of("b", "c"))),
            Collecting.inMemoryStore(),
            CollectorOptions.builder().name("orders").build())) {
      // @start region="collectorMetrics"
      new CollectorMetrics(collector).bindTo(registry);
      // @end
      collector.process(4, batch -> {});
      assertEquals(
          2,
          registry
              .get("collector.batches.acknowledged")
              .tag("collector", "orders")
              .counter()
              .count());
      assertEquals(
          3, registry.get("collector.records").tag("collector", "orders").counter().count());
    }
    assertTrue(registry.getMeters().isEmpty(), "close() removes the meters");
  }

  /**
   * {@link FailurePolicy}: fail-fast fails the run at the first failure; retry-then-fail gets past
   * a batch that fails fewer times than its attempts; retry-then-dead-letter hands a batch that
   * always fails to the dead-letter handler after its attempts, and the run goes on.
   */
  @Test
  void failurePolicy() throws Exception {
    // @start region="failurePolicy"
    FailurePolicy failFast = FailurePolicy.failFast(); // the default
    FailurePolicy retryThenFail =
        FailurePolicy.retry(Retry.of(5, Duration.ofMillis(10), Duration.ofSeconds(1)));
    FailurePolicy retryThenDeadLetter =
        FailurePolicy.retry(Retry.of(3, Duration.ofMillis(10), Duration.ofSeconds(1)))
            .thenDeadLetter((batch, cause) -> quarantine.write(batch)); // then move on
    // @end
    assertEquals(FailurePolicy.failFast(), failFast);

    // batch 1 fails its first attempt: fail-fast ends the run with it
    BatchFailedException failed = assertThrows(BatchFailedException.class, () -> run(failFast, 1));
    assertInstanceOf(IllegalStateException.class, failed.getCause());

    // batch 1 fails 4 of its 5 attempts: the 5th succeeds, the run completes
    assertEquals(3, run(retryThenFail, 4).batches());
    assertTrue(quarantine.batches.isEmpty());

    // batch 1 always fails: after 3 attempts it is dead-lettered, the run completes
    assertEquals(3, run(retryThenDeadLetter, Integer.MAX_VALUE).batches());
    assertEquals(List.of(1L), List.copyOf(quarantine.batches.keySet()));
    assertEquals(3, quarantine.batches.get(1L).attempt());
  }

  /**
   * Every snippet tag in the published modules' main sources names a class of this test tree and a
   * region in it. Javadoc fails on a missing region too, but only when it runs: the javadoc plugin
   * skips a module whose sources did not change, and it does not look at this tree.
   */
  @Test
  void everySnippetTag_namesARegionOfThisTestTree() throws Exception {
    // the markup that opens a region, spelt so that javadoc does not take this line for it
    String start = "/".repeat(2) + " @start region=\"";
    Pattern tag = Pattern.compile("\\{@snippet class=([\\w.]+) region=(\\w+)\\}");
    int found = 0;
    for (String module : List.of("collector-api", "collector-core", "collector-testkit")) {
      List<Path> sources;
      try (Stream<Path> files = Files.walk(Path.of("..", module, "src", "main", "java"))) {
        sources = files.filter(f -> f.toString().endsWith(".java")).toList();
      }
      for (Path source : sources) {
        Matcher m = tag.matcher(Files.readString(source));
        while (m.find()) {
          found++;
          Path quoted = Path.of("src", "test", "java", m.group(1).replace('.', '/') + ".java");
          assertTrue(Files.exists(quoted), source + " quotes " + quoted + ", which is missing");
          assertTrue(
              Files.readString(quoted).contains(start + m.group(2) + "\""),
              source + " quotes region " + m.group(2) + " of " + quoted + ", which has none");
        }
      }
    }
    assertTrue(found >= 10, "snippet tags found: " + found);
  }

  /** Three batches; the handler fails batch 1's first {@code failures} attempts. */
  private static ProcessSummary run(FailurePolicy policy, int failures) throws Exception {
    var source = Collecting.listSource(List.of(List.of("a"), List.of("b"), List.of("c")));
    try (Collector<String> collector =
        Collecting.open(
            source,
            Collecting.inMemoryStore(),
            CollectorOptions.builder().failurePolicy(policy).build())) {
      return collector.process(
          4,
          batch -> {
            if (batch.sequence() == 1 && batch.attempt() <= failures) {
              throw new IllegalStateException("attempt " + batch.attempt() + " of batch 1");
            }
          });
    }
  }
}
